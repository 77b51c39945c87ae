// Loads tsx (resolved from this package, wherever Terraform runs us), then the provider's
// TypeScript entry point. tsx writes nothing to stdout; Node's warnings go to stderr.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
