// The API's zod schemas, for validating configuration. Validation needs them and not the HTTP
// client, so the mirror's build (src/bundle.ts) makes this module the schemas alone (zod, without
// the client): `terraform validate`'s provider process never loads the client.
// Run from sources (tsx, tests), it is simply the whole API package.
export * from "@capydb/api";
