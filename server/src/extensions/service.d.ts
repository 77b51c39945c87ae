import type { Extension } from "@capydb/api";
import type { AppContext } from "../context.js";
import type { ProjectRow } from "../projects/service.js";
export declare function listExtensions(ctx: AppContext, project: ProjectRow): Promise<Extension[]>;
/** Whether an extension exists on the cluster and this platform lets tenants enable it. */
export declare function checkEnableable(ctx: AppContext, project: ProjectRow, name: string): Promise<{
    trusted: boolean;
}>;
