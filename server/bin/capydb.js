#!/usr/bin/env node
// `npx capydb`: the operator CLI (TypeScript sources run through tsx).
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
