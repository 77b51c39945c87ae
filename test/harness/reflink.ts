// A filesystem that can reflink, for tests of the copy-on-write data plane: a sparse
// image file formatted XFS with reflink=1 and loop-mounted (as root, with xfsprogs).
// Where that cannot be had (not root, no mkfs.xfs, no loop devices) the tests run
// the engine's copy path in a plain directory, and say so loudly.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface ReflinkDir {
  dir: string;
  /** Whether `dir` is on the XFS image (else a plain directory: the copy path). */
  reflink: boolean;
  cleanup(): Promise<void>;
}

function tryRun(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    return `FAILED: ${(err as { stderr?: string; message: string }).stderr || (err as Error).message}`;
  }
}

/** Mounts a fresh XFS image (size in GB, sparse: it takes only what is written) under a temp directory. */
export function reflinkDir(label: string, sizeGb = 20): ReflinkDir {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `capydb-${label}-`));
  fs.chmodSync(base, 0o755); // PostgreSQL's OS user walks through it
  const plain = (why: string): ReflinkDir => {
    console.warn(`\n*** ${label}: no reflink filesystem (${why}): testing the copy path in ${base} ***\n`);
    return { dir: base, reflink: false, cleanup: async () => fs.rmSync(base, { recursive: true, force: true }) };
  };
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return plain("not root: a loop mount needs root");
  const mkfs = ["/usr/sbin/mkfs.xfs", "/sbin/mkfs.xfs"].find((p) => fs.existsSync(p));
  if (!mkfs) return plain("mkfs.xfs missing: apt-get install -y xfsprogs");
  const image = path.join(base, "xfs.img");
  const mount = path.join(base, "mnt");
  fs.mkdirSync(mount);
  fs.closeSync(fs.openSync(image, "w"));
  fs.truncateSync(image, sizeGb * 1024 ** 3);
  const made = tryRun(mkfs, ["-q", "-m", "reflink=1", image]);
  if (made?.startsWith("FAILED")) return plain(`mkfs.xfs: ${made}`);
  const mounted = tryRun("mount", ["-o", "loop", image, mount]);
  if (mounted?.startsWith("FAILED")) return plain(`loop mount: ${mounted}`);
  fs.chmodSync(mount, 0o755);
  return {
    dir: mount,
    reflink: true,
    cleanup: async () => {
      // instances still running hold the mount busy: the caller stops them first; lazy unmount as the last resort
      if (tryRun("umount", [mount])?.startsWith("FAILED")) tryRun("umount", ["-l", mount]);
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Stops every instance under an instances dir (they outlive the server on purpose, as PgBouncer does). */
export async function stopInstances(instancesDir: string): Promise<void> {
  if (!fs.existsSync(path.join(instancesDir, "data"))) return;
  const { InstanceHost } = await import("../../server/src/platform/dataplane/instances/host.js");
  const host = await InstanceHost.open({ root: instancesDir, superuserPassword: "unused" }).catch(() => null);
  for (const name of host?.list().instances ?? []) await host!.stop(name, "immediate").catch(() => {});
}

/** After a test of the instance engine whose instances live in `<dir>/instances`: they are stopped, then the image goes. */
export async function stopInstancesAndCleanup(fsDir: ReflinkDir | undefined): Promise<void> {
  if (!fsDir) return;
  await stopInstances(path.join(fsDir.dir, "instances"));
  await fsDir.cleanup();
}
