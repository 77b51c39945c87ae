import { type FastifyInstance } from "fastify";
import type { AppContext } from "../context.js";
export declare function buildApp(ctx: AppContext): Promise<FastifyInstance>;
