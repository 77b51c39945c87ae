import type { Project, CreateProjectRequest, UpdateProjectRequest } from "@capydb/api";
import type { AppContext } from "../context.js";
import type { Principal } from "../http/auth.js";
import { type Queryable } from "../platform/store/db.js";
import type { JobRow } from "../platform/jobs/types.js";
export interface ProjectRow {
    id: string;
    organization_id: string;
    name: string;
    slug: string;
    state: Project["state"];
    region: string;
    plan: string;
    environment: string;
    cluster_id: string;
    database_name: string;
    role_name: string;
    role_password_sealed: string;
    max_connections: number;
    statement_timeout: string;
    idle_transaction_timeout: string;
    storage_limit_bytes: number;
    latest_job_id: string | null;
    last_error: string | null;
    created_at: Date;
    updated_at: Date;
    public_host: string;
    direct_port: number;
    pooled_port: number;
    ssl_mode: string;
}
export declare const PROJECT_DEFAULTS: {
    plan: string;
    environment: string;
    max_connections: number;
    statement_timeout: string;
    idle_transaction_timeout: string;
    storage_limit_bytes: number;
};
export declare function toApiProject(row: ProjectRow): Project;
export declare function loadProject(db: Queryable, id: string): Promise<ProjectRow | null>;
/** The project if the principal may see it; otherwise 404, so existence is not leaked. */
export declare function projectFor(ctx: AppContext, principal: Principal, id: string): Promise<ProjectRow>;
export declare function listProjects(ctx: AppContext, principal: Principal, organizationId?: string): Promise<ProjectRow[]>;
export declare function createProject(ctx: AppContext, principal: Principal, body: CreateProjectRequest): Promise<{
    project: ProjectRow;
    job: JobRow;
}>;
/** Settings are applied to Postgres at once (ALTER ROLE), then recorded. */
export declare function updateProject(ctx: AppContext, project: ProjectRow, body: UpdateProjectRequest): Promise<ProjectRow>;
export declare function deleteProject(ctx: AppContext, project: ProjectRow): Promise<JobRow>;
export declare function connectionUri(ctx: AppContext, project: ProjectRow, pooled: boolean): string;
/** Live project databases of a cluster, for the PgBouncer config. */
export declare function projectDatabases(db: Queryable, clusterId: string): Promise<Array<{
    database: string;
    role: string;
}>>;
