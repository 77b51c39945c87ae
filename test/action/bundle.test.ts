// dist/ is committed (the runner does not install dependencies): it must be exactly what
// `npm run build -w actions/preview-database` makes from src/ now.
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import fs from "node:fs";
import { isBuiltin } from "node:module";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ACTION_DIR, REPO_ROOT } from "./harness.js";

const run = promisify(execFile);

describe("the committed bundle", () => {
  it("dist/ is what the build makes from src/ (rebuild into a temp dir and compare)", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-action-dist-"));
    try {
      const script = JSON.parse(fs.readFileSync(path.join(ACTION_DIR, "package.json"), "utf8")).scripts.build as string;
      expect(script).toMatch(/^ncc build src\/main\.ts -o dist /);
      const args = script.replace(/^ncc /, "").replace(" -o dist ", ` -o ${out} `).split(" ");
      const ncc = path.join(REPO_ROOT, "node_modules/@vercel/ncc/dist/ncc/cli.js");
      await run(process.execPath, [ncc, ...args], { cwd: ACTION_DIR, maxBuffer: 16 * 1024 * 1024 });
      const built = fs.readdirSync(out).sort();
      const committed = fs.readdirSync(path.join(ACTION_DIR, "dist")).sort();
      expect(committed).toEqual(built);
      for (const file of built) {
        const same = fs.readFileSync(path.join(out, file)).equals(fs.readFileSync(path.join(ACTION_DIR, "dist", file)));
        expect(same, `dist/${file} is stale: run npm run build -w actions/preview-database and commit dist/`).toBe(true);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);

  it("is at most half the size it had on undici (4 264 944 bytes), with at most one copy of undici", () => {
    const OLD_SIZE = 4_264_944; // three copies of undici: the API client's and two of @actions/http-client's
    const size = fs.statSync(path.join(ACTION_DIR, "dist/index.js")).size;
    console.log(`actions/preview-database/dist/index.js: ${size} bytes (${((100 * size) / OLD_SIZE).toFixed(1)}% of ${OLD_SIZE})`);
    expect(size).toBeLessThanOrEqual(Math.floor(OLD_SIZE / 2));
    // The one left is @actions/http-client's (imported for a proxy dispatcher the action never asks for).
    const text = fs.readFileSync(path.join(ACTION_DIR, "dist/index.js"), "utf8");
    expect(text.match(/class UndiciError extends Error/g)?.length ?? 0).toBeLessThanOrEqual(1);
  });

  it("is self-contained: it loads nothing but Node's built-in modules", () => {
    const text = fs.readFileSync(path.join(ACTION_DIR, "dist/index.js"), "utf8");
    const loaded = [
      ...text.matchAll(/^import .* from "([^"]+)";$/gm),
      ...text.matchAll(/__WEBPACK_EXTERNAL_createRequire\(import\.meta\.url\)\("([^"]+)"\)/g),
      ...text.matchAll(/\bimport\("([^"]+)"\)/g),
    ].map((m) => m[1]);
    expect(loaded.length).toBeGreaterThan(0);
    // "node:" names can only be built-ins (node:sqlite is one on Node 22+, loaded lazily by undici).
    expect([...new Set(loaded)].filter((s) => !s.startsWith("node:") && !isBuiltin(s))).toEqual([]);
  });
});
