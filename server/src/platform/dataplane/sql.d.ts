export declare function quoteIdent(name: string): string;
export declare function quoteLiteral(value: string): string;
