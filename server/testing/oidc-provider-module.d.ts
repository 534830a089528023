// oidc-provider ships no types; the tests use a small part of it (server/testing/oidc-provider.ts).
declare module "oidc-provider" {
  const Provider: any;
  export default Provider;
}
