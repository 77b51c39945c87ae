export interface Config {
    host: string;
    port: number;
    dataDir: string;
    databaseUrl: string | null;
    clusterAdminUrl: string | null;
    pgbouncerEnabled: boolean;
    pgBinDir: string | null;
    pgPort: number;
    pgbouncerPort: number;
    pgbouncerBin: string | null;
    publicHost: string;
    bootstrapApiKey: string | null;
    secretKey: string | null;
    defaultRegion: string;
    logLevel: string;
    bodyLimitBytes: number;
    workerConcurrency: number;
    jobLeaseSeconds: number;
    jobRetryBaseMs: number;
    jobMaxAttempts: number;
    extensionAllowlist: string[];
    clerk: {
        jwksUrl: string | null;
        publicKeyPem: string | null;
        issuer: string | null;
        authorizedParties: string[];
    };
    runWorkers: boolean;
    runScheduler: boolean;
}
export declare class ConfigError extends Error {
}
export declare function loadConfig(env?: NodeJS.ProcessEnv): Config;
