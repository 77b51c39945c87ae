import type { z } from "zod";
export declare class HttpError extends Error {
    readonly statusCode: number;
    constructor(statusCode: number, message: string);
}
export declare const badRequest: (msg: string) => HttpError;
export declare const unauthorized: (msg: string) => HttpError;
export declare const forbidden: (msg: string) => HttpError;
export declare const notFound: (msg: string) => HttpError;
export declare const conflict: (msg: string) => HttpError;
export declare const notImplemented: (msg: string) => HttpError;
export declare const unavailable: (msg: string) => HttpError;
/** Validates `value` against a zod schema; 400 naming each offending field otherwise. */
export declare function parse<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.infer<S>;
/** Path ids: bounded length and a safe alphabet, else a plain 404 (never echoing hostile input at length). */
export declare function pathId(value: string | undefined, prefix: string, what: string): string;
