import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

/** A user of the test provider: their claims (groups, preferred_username, email…). */
export type TestAccount = Record<string, unknown>;

export type TestOidcProvider = { issuer: string; clientId: string; clientSecret: string; stop(): Promise<void> };

/**
 * A real OpenID provider (oidc-provider) on a free port over http, for tests: one confidential
 * client, PKCE required, consent granted. Its login page asks only for the account's id (field
 * "Provider username") and signs that account in; unknown ids are shown an error.
 */
export async function startOidcProvider(options: { redirectUris: string[]; accounts: Record<string, TestAccount> }): Promise<TestOidcProvider> {
  const clientId = "sqlguard-test";
  const clientSecret = "test-client-secret-0123456789abcdef";
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const claimNames = ["preferred_username", "email", "groups", "name"];
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        response_types: ["code"],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    claims: { openid: ["sub"], profile: ["preferred_username", "name"], email: ["email"], groups: ["groups"] },
    scopes: ["openid", "profile", "email", "groups"],
    conformIdTokenClaims: false,
    ttl: { Grant: 3600, Session: 3600, AccessToken: 600, IdToken: 600, Interaction: 600, AuthorizationCode: 60 },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    cookies: { keys: ["sqlguard-test-provider-cookie-key"] },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, id: string) => {
      const account = options.accounts[id];
      return account ? { accountId: id, claims: () => ({ sub: id, ...account }) } : undefined;
    },
    loadExistingGrant: async (ctx: any) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope("openid profile email groups");
      grant.addOIDCClaims(claimNames);
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const match = /^\/interaction\/([^/?]+)/.exec(req.url ?? "");
    if (!match) return callback(req, res);
    void interaction(req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    });
  });

  async function interaction(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (req.method === "POST") {
      let body = "";
      for await (const chunk of req) body += chunk;
      const login = new URLSearchParams(body).get("login") ?? "";
      if (options.accounts[login]) {
        await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
        return;
      }
      return page(res, details.uid, `unknown account ${login}`);
    }
    page(res, details.uid, "");
  }

  return {
    issuer,
    clientId,
    clientSecret,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function page(res: http.ServerResponse, uid: string, error: string): void {
  const escaped = error.replace(/[<>&"]/g, "");
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html><title>Test provider</title><link rel="icon" href="data:,">
<h1>Test provider sign-in</h1>${escaped ? `<p role="alert">${escaped}</p>` : ""}
<form method="post" action="/interaction/${uid}"><label for="login">Provider username</label><input id="login" name="login"><button type="submit">Continue</button></form>`);
}
