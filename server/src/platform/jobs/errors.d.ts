/** The work cannot succeed by retrying (bad input, a Postgres refusal). */
export declare class PermanentError extends Error {
    readonly classification: "permanent";
}
/** The work may succeed later (a connection dropped, a server restarting). */
export declare class TransientError extends Error {
    readonly classification: "transient";
}
export declare function classifyError(err: unknown): "transient" | "permanent";
export declare function errorMessage(err: unknown): string;
