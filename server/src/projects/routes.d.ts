import type { FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
export declare function projectRoutes(app: FastifyInstance, ctx: AppContext): void;
