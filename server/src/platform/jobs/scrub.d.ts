/** Replaces each known secret (raw and URL-encoded), URL passwords and API keys. */
export declare function scrubSecrets(text: string, secrets?: Iterable<string>): string;
/** Keeps the end of a long output (where tools print their errors). */
export declare function truncateTail(text: string, maxBytes: number): string;
