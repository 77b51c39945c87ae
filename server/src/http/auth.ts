// Who is calling: an API key (platform admin, organization or project scope), a Clerk
// session token mapped to the CapyDB organization linked to its Clerk org, or a GitHub
// Actions workflow holding a token exchanged under a trust policy (one project, some commands).
import type { FastifyRequest } from "fastify";
import pg from "pg";
import type { Db } from "../platform/store/db.js";
import { API_KEY_PREFIX, hashApiKey, newId } from "../platform/secrets.js";
import { API_KEY_REVOKED_CHANNEL, findActiveApiKey, organizationIdForClerk, recordUserSeen, touchApiKey, type AuthKeyRow } from "../organizations/store.js";
import { ClerkTokenError, looksLikeJwt, type ClerkVerifier } from "./clerk.js";
import { forbidden, unauthorized, unavailable } from "./errors.js";
import type { RequestedBy } from "../platform/requested-by.js";
import { OIDC_TOKEN_PREFIX, hashAccessToken, type WorkflowGrant } from "../trustpolicies/tokens.js";
import { findAccessToken } from "../trustpolicies/store.js";
import { authorizeWorkflowRequest } from "../trustpolicies/commands.js";

export type Principal =
  | { kind: "admin"; actorKind: "api_key"; actorId: string }
  | { kind: "org"; actorKind: "api_key"; actorId: string; organizationId: string }
  | { kind: "project"; actorKind: "api_key"; actorId: string; organizationId: string; projectId: string }
  | { kind: "user"; actorKind: "user"; actorId: string; organizationId: string }
  /** actorId: owner/repo#<run id>. Scoped like a project key, and further to its policy's commands. */
  | { kind: "project"; actorKind: "github_actions"; actorId: string; organizationId: string; projectId: string; workflow: WorkflowGrant };

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

type Log = { warn(obj: object, msg: string): void };

/**
 * Valid API keys seen in the last few seconds, by secret hash, so most requests skip
 * the key lookup. A revoke evicts the key at once in every server process of the
 * control plane: the revoking one directly, the others through a LISTEN on
 * API_KEY_REVOKED_CHANNEL. While that listening connection is down (notifications may
 * be missed) the cache is emptied and entries live at most the TTL. Only keys that were
 * found are kept (a stream of invalid keys cannot grow it), and at most `max` of them.
 */
export class ApiKeyCache {
  private readonly byHash = new Map<string, { row: AuthKeyRow; until: number }>();
  /** Bumped by every eviction: a lookup that started before one must not store what it read. */
  private epoch = 0;
  private listener: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly ttlMs = 5000,
    private readonly max = 10_000,
  ) {}

  get generation(): number {
    return this.epoch;
  }

  get(hash: string): AuthKeyRow | null {
    const hit = this.byHash.get(hash);
    if (!hit) return null;
    if (hit.until < Date.now()) {
      this.byHash.delete(hash);
      return null;
    }
    return hit.row;
  }

  /** Remembers a key read from the database, unless an eviction happened since `readAt` (a generation). */
  set(hash: string, row: AuthKeyRow, readAt = this.epoch): void {
    if (this.ttlMs <= 0 || readAt !== this.epoch) return;
    this.byHash.delete(hash);
    if (this.byHash.size >= this.max) this.byHash.delete(this.byHash.keys().next().value!);
    this.byHash.set(hash, { row, until: Date.now() + this.ttlMs });
  }

  evict(keyId: string): void {
    this.epoch++;
    for (const [hash, hit] of this.byHash) if (hit.row.id === keyId) this.byHash.delete(hash);
  }

  clear(): void {
    this.epoch++;
    this.byHash.clear();
  }

  /** Whether revocations made by other processes reach this cache at once right now. */
  get listening(): boolean {
    return this.listener !== null;
  }

  /** Follows revocations made by other server processes; reconnects by itself. */
  async follow(databaseUrl: string, log: Log, retryMs = 1000): Promise<void> {
    if (this.ttlMs <= 0 || this.stopped) return;
    const client = new pg.Client({ connectionString: databaseUrl, application_name: "capydb-key-listen" });
    let lost = false;
    const onLost = (why: string) => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = null;
      this.clear(); // revocations may be missed until we listen again
      client.end().catch(() => {});
      if (this.stopped) return;
      log.warn({ err: why }, "lost the API key revocation listener; cached keys dropped, reconnecting");
      this.reconnectTimer = setTimeout(() => void this.follow(databaseUrl, log, Math.min(retryMs * 2, 30_000)), retryMs);
      this.reconnectTimer.unref();
    };
    client.on("error", (err) => onLost(err.message));
    client.on("end", () => onLost("connection ended"));
    client.on("notification", (n) => {
      if (n.channel === API_KEY_REVOKED_CHANNEL && n.payload) this.evict(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${API_KEY_REVOKED_CHANNEL}`);
    } catch (err) {
      onLost((err as Error).message);
      return;
    }
    if (lost) return;
    if (this.stopped) {
      // stopped while this (re)connect was under way: keep nothing open
      await client.end().catch(() => {});
      return;
    }
    // Anything cached before this point may have been revoked while nobody listened.
    this.clear();
    this.listener = client;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => {});
  }
}

export class Authenticator {
  constructor(
    private readonly db: Db,
    private readonly clerk: ClerkVerifier | null,
    private readonly keys: ApiKeyCache = new ApiKeyCache(0),
  ) {}

  async authenticate(req: FastifyRequest): Promise<Principal> {
    const header = req.headers.authorization;
    if (!header) throw unauthorized("missing Authorization header: send Authorization: Bearer <API key or session token>");
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized("Authorization header must be: Bearer <API key or session token>");
    const token = match[1];
    if (token.startsWith(API_KEY_PREFIX)) return this.fromApiKey(token);
    if (token.startsWith(OIDC_TOKEN_PREFIX)) return this.fromWorkflowToken(token, req);
    if (looksLikeJwt(token)) return this.fromSessionToken(token);
    throw unauthorized("invalid API key");
  }

  private async fromApiKey(secret: string): Promise<Principal> {
    const hash = hashApiKey(secret);
    let key = this.keys.get(hash);
    if (!key) {
      const readAt = this.keys.generation;
      key = await findActiveApiKey(this.db, hash);
      if (!key) throw unauthorized("invalid or revoked API key");
      this.keys.set(hash, key, readAt);
    }
    // last_used_at at minute resolution: one write a minute per key, not one per request.
    if (!key.last_used_at || Date.now() - key.last_used_at.getTime() > 60_000) {
      key.last_used_at = new Date();
      touchApiKey(this.db, key.id).catch(() => {});
    }
    if (key.is_platform_admin) return { kind: "admin", actorKind: "api_key", actorId: key.id };
    if (key.project_id) return { kind: "project", actorKind: "api_key", actorId: key.id, organizationId: key.organization_id!, projectId: key.project_id };
    return { kind: "org", actorKind: "api_key", actorId: key.id, organizationId: key.organization_id! };
  }

  private async fromWorkflowToken(secret: string, req: FastifyRequest): Promise<Principal> {
    const token = await findAccessToken(this.db, hashAccessToken(secret));
    if (!token) throw unauthorized("invalid GitHub Actions token");
    if (token.revoked) throw unauthorized("this GitHub Actions token was revoked: the trust policy it was issued under was deleted");
    if (token.project_gone) throw unauthorized("this GitHub Actions token's project was deleted");
    if (token.expired) throw unauthorized(`this GitHub Actions token expired at ${token.expires_at.toISOString()}: exchange a new GitHub ID token`);
    const workflow: WorkflowGrant = {
      trustPolicyId: token.trust_policy_id,
      commands: token.commands,
      prNumber: token.pr_number,
      sha: token.sha,
    };
    // Its commands are checked here, before any route runs, so no route can forget to.
    authorizeWorkflowRequest(workflow, req.method, req.routeOptions.url!);
    return {
      kind: "project",
      actorKind: "github_actions",
      actorId: token.actor_id,
      organizationId: token.organization_id,
      projectId: token.project_id,
      workflow,
    };
  }

  private async fromSessionToken(token: string): Promise<Principal> {
    if (!this.clerk) throw unauthorized("session tokens are not accepted by this server (no Clerk key configured)");
    let identity;
    try {
      identity = await this.clerk.verify(token);
    } catch (err) {
      if (err instanceof ClerkTokenError && err.code === "keys_unavailable") throw unavailable(err.message);
      if (err instanceof ClerkTokenError) throw unauthorized(err.message);
      throw err;
    }
    if (!identity.clerkOrganizationId) throw unauthorized("session token has no active organization: select an organization in your app");
    const organizationId = await organizationIdForClerk(this.db, identity.clerkOrganizationId);
    if (!organizationId) throw unauthorized("the session's organization is not linked to a CapyDB organization");
    const userId = await recordUserSeen(this.db, newId("usr"), identity.userId);
    return { kind: "user", actorKind: "user", actorId: userId, organizationId };
  }
}

/** Who asked, as jobs, previews and cutover requests record it. */
export function requestedByOf(p: Principal): RequestedBy {
  if (p.actorKind === "github_actions") return { actorKind: p.actorKind, actorId: p.actorId, prNumber: p.workflow.prNumber, sha: p.workflow.sha };
  return { actorKind: p.actorKind, actorId: p.actorId, prNumber: null, sha: null };
}

export function requireAdmin(p: Principal): void {
  if (p.kind !== "admin") throw forbidden("this endpoint is for platform operators (a platform-admin API key)");
}

/** Whether a principal may see a resource of this organization/project (else it answers 404). */
export function canAccess(p: Principal, organizationId: string, projectId?: string | null): boolean {
  switch (p.kind) {
    case "admin":
      return true;
    case "project":
      return projectId != null && p.projectId === projectId;
    default:
      return p.organizationId === organizationId;
  }
}
