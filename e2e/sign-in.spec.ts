import { startOidcProvider, type TestOidcProvider } from "../server/testing/oidc-provider.ts";
import { totpCode, totpStep } from "../server/auth/totp.ts";
import { ADMIN_PASSWORD, expect, test } from "./fixtures/server.ts";
import { gqlOk, signIn } from "./fixtures/helpers.ts";

test.describe.configure({ mode: "serial" });

let provider: TestOidcProvider | undefined;
test.afterAll(async () => provider?.stop());

async function adminGql(request: import("@playwright/test").APIRequestContext, query: string, variables: Record<string, unknown> = {}) {
  const response = await request.post("/graphql", { data: { query, variables } });
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: Array<{ message: string }> };
  expect(body.errors).toBeUndefined();
  return body.data!;
}

test("a single sign-on user signs in with the mapped role; a user no mapping matches is told why", async ({ page, request, baseURL }) => {
  provider = await startOidcProvider({
    redirectUris: [`${baseURL}/auth/oidc/callback`],
    accounts: {
      dana: { preferred_username: "dana", groups: ["dba"] },
      eve: { preferred_username: "eve", groups: ["marketing"] },
    },
  });
  await adminGql(request, `mutation { login(username: "admin", password: "${ADMIN_PASSWORD}") { id } }`);
  await adminGql(request, `mutation($input: SignInSettingsInput!) { updateSignInSettings(input: $input) { oidcEnabled } }`, {
    input: {
      oidcEnabled: true,
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      scopes: "openid profile groups",
      label: "Test provider",
      roleMappings: [
        { value: "dba-admins", role: "ADMIN" },
        { value: "dba", role: "OPERATOR" },
      ],
      defaultRole: null,
    },
  });

  await page.goto("/login/");
  await page.getByRole("link", { name: "Sign in with Test provider" }).click();
  await page.getByLabel("Provider username").fill("dana");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByText("dana", { exact: true })).toBeVisible();
  const me = await page.evaluate(async () => {
    const r = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ me { username role authSource } }" }),
    });
    return (await r.json()).data.me;
  });
  expect(me).toEqual({ username: "dana", role: "OPERATOR", authSource: "OIDC" });
  await nav.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\/$/);

  // Forget dana's session at the provider, so that it asks who signs in.
  await page.context().clearCookies();
  await page.getByRole("link", { name: "Sign in with Test provider" }).click();
  await page.getByLabel("Provider username").fill("eve");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page).toHaveURL(/\/login\/\?sso=no_role/);
  await expect(page.getByRole("main").getByRole("alert")).toContainText("none of your groups gives a SQLGuard role");
});

test("a local user enrols TOTP with the QR code's secret, signs in with a computed code, and is refused with a wrong one", async ({ page }) => {
  // A user of its own: the admin other specs sign in as (the server is shared) keeps password-only login.
  const username = `totp-${Date.now().toString(36)}`;
  const password = "totp-user-password";
  await signIn(page);
  await gqlOk(page.request, "mutation($u: String!, $p: String!) { createUser(input: { username: $u, password: $p, role: ADMIN }) { id } }", {
    u: username,
    p: password,
  });
  await page.context().clearCookies();
  await page.goto("/login/");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await page.goto("/settings/?tab=sign-in");
  await page.getByRole("button", { name: "Set up TOTP" }).click();
  await expect(page.getByRole("img", { name: "TOTP QR code" })).toBeVisible();
  const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
  const step = totpStep(new Date());
  await page.getByLabel("Code from the app").fill(totpCode(secret, step));
  await page.getByRole("button", { name: "Turn TOTP on" }).click();
  await expect(page.getByTestId("recovery-codes").getByRole("listitem")).toHaveCount(10);
  await expect(page.getByText("TOTP is on; 10 recovery codes left.")).toBeVisible();
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();

  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const code = page.getByLabel("Authentication code");
  await expect(code).toBeVisible();
  const right = totpCode(secret, step + 1);
  const wrong = [step - 1, step, step + 1].map((s) => totpCode(secret, s)).includes("000000") ? "999999" : "000000";
  await code.fill(wrong);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("main").getByRole("alert")).toContainText("wrong authentication code");
  await code.fill(right);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
});
