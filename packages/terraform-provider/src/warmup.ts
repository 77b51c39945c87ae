// `terraform-provider-capydb __warmup`: runs what a provider process runs (the gRPC server with
// TLS, the schema, validation with the API's schemas, the API client), without Terraform and
// without a network, so that the bundle's V8 code cache made at build time (src/bundle.ts)
// covers the code of a real start.
import { encodeValue } from "./cty/msgpack.js";
import type { ObjectValue } from "./cty/types.js";
import { planResourceChange } from "./framework/resource.js";
import { makeServerCertificate } from "./plugin/certs.js";
import { createLogger } from "./plugin/log.js";
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, servePlugin } from "./plugin/server.js";
import { encodeMessage } from "./proto/codec.js";
import * as m from "./proto/messages.js";
import { CapyProvider } from "./provider.js";
import { PROVIDER_SCHEMA, dataSources, resources } from "./registry.js";
import { blockType, nullObject } from "./schema/schema.js";

export async function warmUp(): Promise<void> {
  const log = createLogger("warmup", () => {});
  const provider = new CapyProvider(log);
  const client = makeServerCertificate();
  const plugin = await servePlugin(provider, log, {
    [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE,
    PLUGIN_PROTOCOL_VERSIONS: "6",
    PLUGIN_CLIENT_CERT: client.certPem,
  });
  try {
    encodeMessage(m.GetProviderSchemaResponse, provider.getProviderSchema());
    const providerConfig = { ...nullObject(PROVIDER_SCHEMA.block), api_url: "http://127.0.0.1:9", api_key: "capy_live_warmup" };
    const providerType = blockType(PROVIDER_SCHEMA.block);
    encodeMessage(m.ValidateProviderConfigResponse, provider.validateProviderConfig({ config: { msgpack: encodeValue(providerType, providerConfig) } }));
    for (const r of resources) {
      const config: ObjectValue = { ...nullObject(r.schema.block) };
      const msgpack = encodeValue(blockType(r.schema.block), config);
      encodeMessage(m.ValidateResourceConfigResponse, await provider.validateResourceConfig({ type_name: r.typeName, config: { msgpack } }));
      await planResourceChange(r, null, null, config, config);
    }
    for (const d of dataSources) {
      const msgpack = encodeValue(blockType(d.schema.block), nullObject(d.schema.block));
      await provider.validateDataResourceConfig({ type_name: d.typeName, config: { msgpack } });
    }
    await provider.configureProvider({ terraform_version: "warmup", config: { msgpack: encodeValue(providerType, providerConfig) } });
  } finally {
    await plugin.stop();
  }
}
