// The access tokens exchanged for GitHub's ID tokens: 256 random bits behind a prefix of their
// own (so authentication knows what it holds, and secret scanners can tell it from an API key),
// kept only as a SHA-256 hash like API keys.
import crypto from "node:crypto";
import type { TrustPolicyCommand } from "@capydb/api";
import { hashApiKey } from "../platform/secrets.js";

export const OIDC_TOKEN_PREFIX = "capy_oidc_";

export function newAccessTokenSecret(): string {
  return OIDC_TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
}

/** A fast hash is the right one for a secret of 256 random bits (see hashApiKey). */
export const hashAccessToken = hashApiKey;

/** What a GitHub Actions principal carries beyond its project: the run, and what its policy allows. */
export interface WorkflowGrant {
  trustPolicyId: string;
  commands: TrustPolicyCommand[];
  prNumber: number | null;
  sha: string | null;
}
