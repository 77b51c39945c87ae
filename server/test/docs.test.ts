// The API reference page at /docs: public, served from the same document, with every asset
// from this server (nothing fetched from elsewhere at run time) under a 'self'-only policy.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../test/harness/server.js";

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t?.stop();
});

/** The src and href attributes of a page. */
const references = (html: string) => [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)].map((m) => m[1]);

describe("/docs", () => {
  it("is an HTML page, public, whose every reference is a same-origin asset that is served", async () => {
    const page = await fetch(`${t.url}/docs`); // no credentials
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('id="swagger-ui"');
    // nothing absolute: no CDN, no scheme-relative URL
    expect(html).not.toMatch(/https?:|\/\/[a-z]/i);
    const refs = references(html);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    const expected: Record<string, RegExp> = { ".css": /^text\/css/, ".js": /^text\/javascript/, ".png": /^image\/png/ };
    for (const ref of refs) {
      const url = new URL(ref, page.url);
      expect(url.origin, ref).toBe(new URL(t.url).origin);
      expect(url.pathname, ref).toMatch(/^\/docs\//);
      const asset = await fetch(url);
      expect(asset.status, ref).toBe(200);
      const ext = Object.keys(expected).find((e) => url.pathname.endsWith(e))!;
      expect(ext, ref).toBeDefined();
      expect(asset.headers.get("content-type"), ref).toMatch(expected[ext]);
      expect(asset.headers.get("x-content-type-options")).toBe("nosniff");
      expect((await asset.arrayBuffer()).byteLength, ref).toBeGreaterThan(100);
    }
    // Swagger UI itself, from the npm package
    expect(refs).toEqual(expect.arrayContaining(["docs/swagger-ui-bundle.js", "docs/swagger-ui.css", "docs/init.js"]));
  });

  it("allows only 'self' in its Content-Security-Policy: no inline script, nothing from elsewhere", async () => {
    const page = await fetch(`${t.url}/docs`);
    const csp = page.headers.get("content-security-policy") ?? "";
    const directives = Object.fromEntries(
      csp
        .split(";")
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values]),
    );
    expect(directives["default-src"]).toEqual(["'self'"]);
    for (const [name, values] of Object.entries(directives)) {
      for (const v of values as string[]) expect(["'self'", "'none'", "data:"], `${name} ${v}`).toContain(v);
      if (name !== "img-src") expect(values, name).not.toContain("data:");
    }
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    // the page has no inline script for the policy to refuse
    expect(await page.text()).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it("points Swagger UI at the served document, which answers without credentials", async () => {
    const init = await (await fetch(`${t.url}/docs/init.js`)).text();
    expect(init).toContain('"../v1/openapi.json"');
    expect(init).toContain("validatorUrl: null");
    expect(init).not.toMatch(/https?:\/\//);
    const spec = new URL("../v1/openapi.json", `${t.url}/docs/init.js`);
    const doc = await fetch(spec);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { info: { title: string } }).info.title).toBe("CapyDB API");
  });

  it("serves only the files it names: other paths under /docs are not found, and an authenticated route still needs a key", async () => {
    for (const p of ["/docs/package.json", "/docs/..%2Fpackage.json", "/docs/swagger-ui.js.map", "/docs/index.html"]) {
      const res = await fetch(`${t.url}${p}`);
      expect(res.status, p).toBe(404);
    }
    expect((await fetch(`${t.url}/v1/projects`)).status).toBe(401);
    // with a trailing slash: sent to the page, whose relative references then resolve under /docs/
    const slash = await fetch(`${t.url}/docs/`, { redirect: "manual" });
    expect(slash.status).toBe(301);
    expect(new URL(slash.headers.get("location")!, `${t.url}/docs/`).href).toBe(`${t.url}/docs`);
  });
});
