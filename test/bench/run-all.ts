// `npm run bench`: every benchmark's main(), one after the other (each starts and stops its
// own CapyDB server). A bench that fails is reported and the others still run; the exit code
// is non-zero if any failed.
//
//   npx tsx test/bench/run-all.ts        (or: npm run bench)
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { stopAllChildren } from "./lib.js";

interface BenchModule {
  main?: () => Promise<unknown>;
}

const BENCHES = ["api", "provision", "queue", "previews", "backups", "imports", "action", "terraform", "engines", "schema-diff", "cutover"];

async function load(name: string): Promise<BenchModule | null> {
  // A bench file may not exist yet (queue.ts is being written): skip it with a message.
  if (!fs.existsSync(fileURLToPath(new URL(`./${name}.ts`, import.meta.url)))) return null;
  // A computed specifier: tsc does not resolve it, so a missing file is not a type error.
  const specifier = `./${name}.js`;
  return (await import(specifier)) as BenchModule;
}

async function runAll(): Promise<number> {
  const failed: string[] = [];
  const skipped: string[] = [];
  for (const name of BENCHES) {
    const started = performance.now();
    let mod: BenchModule | null;
    try {
      mod = await load(name);
    } catch (err) {
      process.stderr.write(`bench ${name}: could not be loaded: ${(err as Error).stack ?? String(err)}\n`);
      failed.push(name);
      continue;
    }
    if (!mod) {
      process.stdout.write(`\n## ${name}\n\nSkipped: test/bench/${name}.ts does not exist yet.\n`);
      skipped.push(name);
      continue;
    }
    if (typeof mod.main !== "function") {
      process.stdout.write(`\n## ${name}\n\nSkipped: test/bench/${name}.ts exports no main().\n`);
      skipped.push(name);
      continue;
    }
    try {
      await mod.main();
      process.stderr.write(`bench ${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      process.stderr.write(`bench ${name}: failed: ${(err as Error).stack ?? String(err)}\n`);
      await stopAllChildren();
      failed.push(name);
    }
  }
  process.stdout.write(
    `\nBenchmarks: ${BENCHES.length - failed.length - skipped.length} ran, ${skipped.length} skipped${skipped.length ? ` (${skipped.join(", ")})` : ""}, ` +
      `${failed.length} failed${failed.length ? ` (${failed.join(", ")})` : ""}. Reproduce all: \`npm run bench\`\n`,
  );
  return failed.length ? 1 : 0;
}

runAll().then(
  (code) => process.exit(code),
  async (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    await stopAllChildren();
    process.exit(1);
  },
);
