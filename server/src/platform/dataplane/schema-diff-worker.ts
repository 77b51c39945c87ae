// The worker threads of diffSchemas (schema-diff.ts): a diff per message, answered in order.
import { parentPort } from "node:worker_threads";
import { diffSchemasHere, type DiffAnswer, type DiffRequest } from "./schema-diff.js";

parentPort!.on("message", async ({ from, to }: DiffRequest) => {
  let answer: DiffAnswer;
  try {
    answer = { statements: await diffSchemasHere(from, to) };
  } catch (err) {
    answer = { error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(answer);
});
