// A real S3-protocol server (s3rver) on loopback for tests, and the environment that
// points a CapyDB server's blob store at it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import S3rver from "s3rver";

export interface S3TestServer {
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(): Promise<S3TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capydb-s3-"));
  const bucket = "capydb-test";
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await server.run();
  return {
    env: {
      CAPYDB_BLOB_URL: `s3://${bucket}/capy-${crypto.randomBytes(3).toString("hex")}`,
      CAPYDB_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      // s3rver knows only this access key id and does not check signatures
      CAPYDB_S3_ACCESS_KEY_ID: "S3RVER",
      CAPYDB_S3_SECRET_ACCESS_KEY: crypto.randomBytes(20).toString("hex"),
    },
    async stop() {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
