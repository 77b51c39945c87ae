export interface ToolRunOptions {
    env?: Record<string, string>;
    stdin?: NodeJS.ReadableStream | string;
    signal?: AbortSignal;
    timeoutMs?: number;
    secrets?: Iterable<string>;
}
export interface ToolResult {
    exitCode: number | null;
    stdout: string;
    stderr: string;
}
/** A tool exited non-zero or was killed; the message carries its last stderr line. */
export declare function toolFailure(cmd: string, result: ToolResult): Error;
export declare function runTool(cmd: string, args: string[], options?: ToolRunOptions): Promise<ToolResult>;
