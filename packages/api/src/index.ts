export * from "./schemas.js";
export * from "./error-codes.js";
export * from "./endpoints.js";
export { buildOpenApiDocument } from "./openapi.js";
export * from "./client.js";
