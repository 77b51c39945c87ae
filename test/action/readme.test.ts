// The README's copy-paste workflows are parsed and checked against action.yml: every `with:`
// key is a real input (and the required ones are there), every steps.<id>.outputs.<name> is a
// real output, and auto-mode workflows only trigger on events the action handles. The README's
// reference tables list exactly the inputs and outputs of action.yml.
import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ACTION_DIR } from "./harness.js";
import { OUTPUT_NAMES } from "../../actions/preview-database/src/outputs.js";

interface ActionYml {
  runs: { using: string; main: string };
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
}

const readme = fs.readFileSync(path.join(ACTION_DIR, "README.md"), "utf8");
const action = parse(fs.readFileSync(path.join(ACTION_DIR, "action.yml"), "utf8")) as ActionYml;
const inputs = Object.keys(action.inputs);
const outputs = Object.keys(action.outputs);
const required = inputs.filter((i) => action.inputs[i].required);
const AUTO_ACTIONS = new Set(["opened", "reopened", "ready_for_review", "synchronize", "labeled", "closed"]);

interface Step {
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

const snippets = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

function stepsOf(doc: unknown): Step[] {
  if (Array.isArray(doc)) return doc as Step[];
  const jobs = (doc as { jobs?: Record<string, { steps?: Step[] }> }).jobs ?? {};
  return Object.values(jobs).flatMap((j) => j.steps ?? []);
}

const isOurs = (s: Step) => typeof s.uses === "string" && /\/actions\/preview-database@/.test(s.uses);

describe("README workflows", () => {
  it("has workflow snippets, and every one parses as YAML", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(4);
    for (const text of snippets) expect(() => parse(text)).not.toThrow();
  });

  it("uses GitHub's own actions at their current major versions", () => {
    // Checked against the actions' release pages (late 2026): raise these when a new major ships.
    const CURRENT_MAJOR: Record<string, number> = { "actions/checkout": 6 };
    const used = snippets
      .flatMap((text) => stepsOf(parse(text) as unknown))
      .flatMap((s) => (typeof s.uses === "string" && s.uses.startsWith("actions/") ? [s.uses] : []));
    expect(used.length).toBeGreaterThan(0);
    for (const uses of used) {
      const m = /^(actions\/[\w-]+)@v(\d+)$/.exec(uses);
      expect(m, `${uses} names a major version tag`).not.toBeNull();
      expect(Object.keys(CURRENT_MAJOR), `${m![1]} has a known current major`).toContain(m![1]);
      expect(Number(m![2]), uses).toBe(CURRENT_MAJOR[m![1]]);
    }
  });

  for (const [i, text] of snippets.entries()) {
    it(`snippet ${i + 1} uses only real inputs and outputs`, () => {
      const doc = parse(text) as unknown;
      const steps = stepsOf(doc);
      const ours = steps.filter(isOurs);
      expect(ours.length, "the snippet uses the action").toBeGreaterThan(0);
      for (const step of ours) {
        const keys = Object.keys(step.with ?? {});
        for (const key of keys) expect(inputs, `with: ${key}`).toContain(key);
        for (const key of required) expect(keys, `required input ${key}`).toContain(key);
        expect(step.id, "the step has an id so its outputs can be read").toBeTruthy();
      }
      const ids = new Set(ours.map((s) => s.id));
      for (const m of text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
        expect(ids.has(m[1]), `steps.${m[1]} is the action's step`).toBe(true);
        expect(outputs, `output ${m[2]}`).toContain(m[2]);
      }
      for (const m of text.matchAll(/steps\.db\.outputs\.operation\s*[!=]=\s*'([\w-]+)'/g)) {
        expect(["created", "reused", "reset", "deleted", "cutover-requested", "skipped"]).toContain(m[1]);
      }
      // A whole workflow in auto mode triggers on pull_request actions the action handles.
      if (!Array.isArray(doc)) {
        const on = (doc as { on: Record<string, { types?: string[] } | null> }).on;
        const auto = ours.some((s) => (s.with?.command ?? "auto") === "auto");
        if (auto) {
          expect(Object.keys(on).every((e) => e === "pull_request" || e === "pull_request_target")).toBe(true);
          for (const type of on.pull_request?.types ?? []) expect(AUTO_ACTIONS, `pull_request type ${type}`).toContain(type);
        }
        for (const [name, value] of Object.entries(ours[0].with ?? {})) {
          if (typeof value !== "string" || value.includes("${{")) continue;
          if (name === "mode") expect(["full", "schema-only"]).toContain(value);
          if (name === "on-push") expect(["reuse", "reset"]).toContain(value);
          if (["wait", "comment", "cutover-on-merge"].includes(name)) expect(["true", "false"]).toContain(String(value));
          if (name === "masked") expect(["true", "false", ""]).toContain(String(value));
          if (name === "source") expect(value).toMatch(/^(project|empty|backup:.+)$/);
        }
      }
    });
  }
});

describe("the reference tables and action.yml", () => {
  const table = (heading: string) => {
    const section = readme.split(`## ${heading}\n`)[1]?.split("\n## ")[0] ?? "";
    return [...section.matchAll(/^\| `([\w-]+)` \|/gm)].map((m) => m[1]);
  };

  it("lists every input and only those", () => {
    expect(table("Inputs").sort()).toEqual([...inputs].sort());
  });

  it("lists every output and only those, the names the code sets", () => {
    expect(table("Outputs").sort()).toEqual([...outputs].sort());
    expect([...OUTPUT_NAMES].sort()).toEqual([...outputs].sort());
  });

  it("runs the committed bundle on node24", () => {
    expect(action.runs).toEqual({ using: "node24", main: "dist/index.js" });
  });

  it("the code reads every input of action.yml and no other", () => {
    const source = fs.readFileSync(path.join(ACTION_DIR, "src/input-helper.ts"), "utf8");
    const read = new Set([...source.matchAll(/\b(?:input|oneOf|bool|optionalBool|duration|required)\("([\w-]+)"/g)].map((m) => m[1]));
    expect([...read].sort()).toEqual([...inputs].sort());
  });
});
