import type { FastifyRequest } from "fastify";
import type { Db } from "../platform/store/db.js";
import { type ClerkVerifier } from "./clerk.js";
export type Principal = {
    kind: "admin";
    actorKind: "api_key";
    actorId: string;
} | {
    kind: "org";
    actorKind: "api_key";
    actorId: string;
    organizationId: string;
} | {
    kind: "project";
    actorKind: "api_key";
    actorId: string;
    organizationId: string;
    projectId: string;
} | {
    kind: "user";
    actorKind: "user";
    actorId: string;
    organizationId: string;
};
declare module "fastify" {
    interface FastifyRequest {
        principal?: Principal;
    }
}
export declare class Authenticator {
    private readonly db;
    private readonly clerk;
    constructor(db: Db, clerk: ClerkVerifier | null);
    authenticate(req: FastifyRequest): Promise<Principal>;
    private fromApiKey;
    private fromSessionToken;
}
export declare function requireAdmin(p: Principal): void;
/** Whether a principal may see a resource of this organization/project (else it answers 404). */
export declare function canAccess(p: Principal, organizationId: string, projectId?: string | null): boolean;
