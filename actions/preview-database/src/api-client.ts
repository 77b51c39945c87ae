// The CapyDB client the rest of the action uses. With an API key, a plain CapyClient. With a
// workflow token, the same interface over one client per token: a call CapyDB refuses with 401
// (the token expired with its five-minute GitHub ID token, or its trust policy was replaced) gets
// a new token and is sent once more. Safe for every call: a 401 means the server did nothing.
import * as core from "@actions/core";
import { CapyApiError, CapyClient } from "@capydb/api";
import type { ApiAccess, WorkflowToken } from "./api-access.js";

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

export function clientFor(access: ApiAccess, baseUrl: string, userAgent: string): CapyClient {
  const make = (apiKey: string) =>
    new CapyClient({
      baseUrl,
      apiKey,
      userAgent,
      onResponseMismatch: (m) =>
        core.debug(`CapyDB answer to ${m.method} ${m.endpoint} differs from the client's schema: ${JSON.stringify(m.issues.slice(0, 3))}`),
    });
  return access.kind === "api-key" ? make(access.token) : renewing(access, make);
}

function renewing(token: WorkflowToken, make: (apiKey: string) => CapyClient): CapyClient {
  const clients = new Map<string, CapyClient>();
  const clientOf = (apiKey: string) => {
    let client = clients.get(apiKey);
    if (!client) clients.set(apiKey, (client = make(apiKey)));
    return client;
  };
  const method = (client: CapyClient, name: string | symbol) => (Reflect.get(client, name, client) as AnyMethod).bind(client);

  return new Proxy(clientOf(token.token), {
    get(first, name) {
      // The clients of earlier tokens may still have calls in flight: all close at the end.
      if (name === "close") return async () => void (await Promise.all([...clients.values()].map((c) => c.close())));
      const value: unknown = Reflect.get(first, name, first);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        const used = token.token;
        try {
          return await method(clientOf(used), name)(...args);
        } catch (err) {
          if (!(err instanceof CapyApiError && err.status === 401)) throw err;
          const fresh = await token.renew(used, err.message);
          return await method(clientOf(fresh), name)(...args);
        }
      };
    },
  });
}
