// capydb_trust_policy: which GitHub Actions workflows may trade their ID token for a short-lived
// token of a project (POST /v1/projects/{id}/trust-policies, GET and DELETE /v1/trust-policies/{id}).
//
// The API has no update for a policy, so every argument forces replacement. Read and import use
// the GET by id; the import id is the policy's id, and "<project_id>/<trust_policy_id>" (the only
// form before that GET existed) is still accepted, checking that the policy is that project's.
//
// The API calls the issuer `provider`; in a resource block that name is Terraform's meta-argument
// (`provider = capydb.other`), so the attribute is `oidc_provider`.
import type { TrustPolicy } from "@capydb/api";
import { type ObjectValue, type Value, isUnknown } from "../cty/types.js";
import { DiagnosticError, errorDiagnostic } from "../framework/diagnostics.js";
import type { ProviderContext, Resource } from "../framework/resource.js";
import type { DiagnosticMsg } from "../proto/messages.js";
import type { AttributeSpec } from "../schema/schema.js";
import { type FieldSchema, api, bool, checkWithSchemas, isNotFound, requireString } from "./common.js";

/** The server's default when `commands` is left out: all of them, in its order (a test checks it equals TRUST_POLICY_COMMANDS). */
export const ALL_COMMANDS: readonly string[] = ["create", "reset", "delete", "extend", "check", "cutover"];

/** The list arguments; left out (null), each allows anything, except `commands`, which then allows all. */
const LISTS = ["refs", "environments", "events", "commands"] as const;

const attributes: Record<string, AttributeSpec> = {
  id: { type: "string", computed: true, description: "The trust policy id (tp_...)." },
  project_id: {
    type: "string",
    required: true,
    requiresReplace: true,
    description: "The project whose previews the workflows may manage. Changing it creates a new policy.",
  },
  oidc_provider: {
    type: "string",
    optional: true,
    computed: true,
    requiresReplace: true,
    default: "github",
    description: 'Who issues the workflows\' ID tokens: "github" (GitHub Actions, the default and only one so far).',
  },
  repository: {
    type: "string",
    required: true,
    requiresReplace: true,
    description: 'The GitHub repository whose workflows are trusted, "owner/repo" (matched without regard to case, as GitHub does).',
  },
  repository_id: {
    type: "string",
    optional: true,
    computed: true,
    requiresReplace: true,
    description:
      "GitHub's numeric id of the repository: a repository deleted and recreated under the same name has another, and is not trusted. " +
      "Left out, the server pins the id of the first token exchanged (shown here after the next refresh).",
  },
  refs: {
    type: { list: "string" },
    optional: true,
    requiresReplace: true,
    description: 'Refs the run must be on, e.g. ["refs/heads/main", "refs/pull/*/merge"]; "*" stands for one whole path segment. Left out: any ref.',
  },
  environments: {
    type: { list: "string" },
    optional: true,
    requiresReplace: true,
    description: "GitHub environments the job must name (without regard to case). Left out: any environment, or none.",
  },
  events: {
    type: { list: "string" },
    optional: true,
    requiresReplace: true,
    description: 'Workflow events (event_name), e.g. ["pull_request", "push"]. Left out: any event.',
  },
  commands: {
    type: { list: "string" },
    optional: true,
    computed: true,
    requiresReplace: true,
    default: [...ALL_COMMANDS],
    description: `What the workflows' tokens may do: ${ALL_COMMANDS.join(", ")}. Left out: all of them.`,
  },
  allow_forks: {
    type: "bool",
    optional: true,
    computed: true,
    requiresReplace: true,
    default: false,
    description: "Trust pull_request_target and workflow_run runs, through which a fork's code can hold the repository's token (default false).",
  },
  created_at: { type: "string", computed: true, description: "When the policy was created (RFC 3339)." },
};

function policyState(p: TrustPolicy): ObjectValue {
  return {
    id: p.id,
    project_id: p.project_id,
    oidc_provider: p.provider,
    repository: p.repository,
    repository_id: p.repository_id,
    refs: p.refs,
    environments: p.environments,
    events: p.events,
    commands: p.commands,
    allow_forks: p.allow_forks,
    created_at: p.created_at,
  };
}

/** The policy as the API answers it, or null when it (or its project) is gone. */
async function readPolicy(ctx: ProviderContext, id: string): Promise<TrustPolicy | null> {
  try {
    return (await ctx.client.getTrustPolicy(id)).trust_policy;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

const IMPORT_FORMS = 'Import a capydb_trust_policy by its id, e.g. tp_def456 (or as "<project_id>/<trust_policy_id>", e.g. prj_abc123/tp_def456)';

function stringList(v: Value | undefined): string[] | undefined {
  return Array.isArray(v) ? v.map(String) : undefined;
}

/** A list as the issue of one zod schema: the message, and the element it is about when there is one. */
function listProblem(name: string, values: readonly Value[], issue: { message: string; path: readonly PropertyKey[] }): DiagnosticMsg {
  const i = typeof issue.path[0] === "number" ? issue.path[0] : undefined;
  if (i === undefined) return errorDiagnostic("Invalid attribute value", `${name}: ${issue.message}`, [name]);
  return errorDiagnostic("Invalid attribute value", `${name}[${i}]: ${issue.message} (got ${JSON.stringify(values[i])})`, [name, i]);
}

interface ListSchema {
  safeParse(value: unknown): { success: true } | { success: false; error: { issues: ReadonlyArray<{ message: string; path: PropertyKey[] }> } };
}

/**
 * Checks one list argument with the API's schema of that field: not empty, at most 50 entries,
 * each entry valid. Beyond the API: an entry may not start or end with whitespace (it could never
 * match a claim) nor appear twice (the server keeps one, and the state would then differ from the
 * configuration). Unknown entries are left to the apply.
 */
function checkList(name: string, value: Value | undefined, schema: ListSchema, element: FieldSchema): DiagnosticMsg[] {
  if (!Array.isArray(value)) return [];
  const out: DiagnosticMsg[] = [];
  const seen = new Map<string, number>();
  value.forEach((v, i) => {
    if (typeof v !== "string") return;
    if (v !== v.trim()) {
      out.push(errorDiagnostic("Invalid attribute value", `${name}[${i}]: must not start or end with whitespace (got ${JSON.stringify(v)})`, [name, i]));
      return;
    }
    const first = seen.get(v);
    if (first !== undefined) {
      out.push(errorDiagnostic("Invalid attribute value", `${name}[${i}]: ${JSON.stringify(v)} is already listed (${name}[${first}])`, [name, i]));
    } else seen.set(v, i);
  });
  if (value.some(isUnknown)) {
    value.forEach((v, i) => {
      if (typeof v !== "string" || v !== v.trim()) return;
      const parsed = element.safeParse(v);
      if (!parsed.success) out.push(listProblem(name, value, { message: parsed.error.issues.map((x) => x.message).join("; "), path: [i] }));
    });
    return out;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const i = issue.path[0];
      const v = typeof i === "number" ? value[i] : undefined;
      if (typeof v === "string" && v !== v.trim()) continue; // reported above
      out.push(listProblem(name, value, issue));
    }
  }
  return out;
}

/** The checks `terraform validate` runs: the API's request schema, field by field, plus checkList's. */
export async function validateTrustPolicy(config: ObjectValue): Promise<DiagnosticMsg[]> {
  const { CreateTrustPolicyRequest } = await api();
  const shape = CreateTrustPolicyRequest.shape;
  const out = checkWithSchemas(config, { oidc_provider: shape.provider, repository: shape.repository, repository_id: shape.repository_id });
  for (const name of LISTS) {
    const list = shape[name].unwrap();
    out.push(...checkList(name, config[name], list, list.element));
  }
  return out;
}

export const trustPolicyResource: Resource = {
  typeName: "capydb_trust_policy",
  schema: {
    version: 0,
    block: {
      description:
        "A trust policy: the GitHub Actions workflows (repository, refs, environments, events) that may exchange their OIDC ID token " +
        "for a short-lived token of the project, limited to the policy's commands. Every change creates a new policy; destroying it revokes its tokens.",
      attributes,
    },
  },

  validate: validateTrustPolicy,

  async create(ctx, planned) {
    const projectId = requireString(planned, "project_id");
    const repositoryId = planned.repository_id;
    const { trust_policy } = await ctx.client.createTrustPolicy(projectId, {
      ...(typeof planned.oidc_provider === "string" ? { provider: planned.oidc_provider as TrustPolicy["provider"] } : {}),
      repository: requireString(planned, "repository"),
      ...(typeof repositoryId === "string" ? { repository_id: repositoryId } : {}),
      refs: stringList(planned.refs),
      environments: stringList(planned.environments),
      events: stringList(planned.events),
      commands: stringList(planned.commands) as TrustPolicy["commands"] | undefined,
      allow_forks: bool(planned.allow_forks),
    });
    return policyState(trust_policy);
  },

  async read(ctx, state) {
    const policy = await readPolicy(ctx, requireString(state, "id"));
    return policy ? policyState(policy) : null;
  },

  update(_ctx, prior) {
    // Every argument forces replacement: there is nothing to change in place.
    return Promise.resolve(prior);
  },

  async delete(ctx, prior) {
    try {
      await ctx.client.deleteTrustPolicy(requireString(prior, "id"));
    } catch (err) {
      if (isNotFound(err)) return; // deleted already, or with its project
      throw err;
    }
  },

  async importState(ctx, id) {
    const m = /^(?:([^/\s]+)\/)?(tp_[^/\s]+)$/.exec(id);
    if (!m) throw new DiagnosticError("Invalid import id", `${IMPORT_FORMS}; got "${id}".`);
    const [, projectId, policyId] = m;
    const policy = await readPolicy(ctx, policyId);
    if (!policy) throw new DiagnosticError("Cannot import trust policy", `Trust policy ${policyId} does not exist (or is not visible to this API key).`);
    if (projectId !== undefined && policy.project_id !== projectId) {
      throw new DiagnosticError(
        "Cannot import trust policy",
        `Trust policy ${policyId} belongs to project ${policy.project_id}, not ${projectId}: import it as ${policyId} or ${policy.project_id}/${policyId}.`,
      );
    }
    return policyState(policy);
  },
};
