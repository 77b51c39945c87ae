import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
export declare function organizationRoutes(app: FastifyInstance, ctx: AppContext): void;
