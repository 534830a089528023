// oidc-provider ships no types; the tests use a small part of it (server/testing/oidc-provider.ts).
declare module "oidc-provider" {
  // biome-ignore lint/suspicious/noExplicitAny: untyped test-only dependency.
  const Provider: any;
  export default Provider;
}
