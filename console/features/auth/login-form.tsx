"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { GraphQLRequestError, request } from "@/lib/graphql";
import { graphql } from "@/lib/graphql-tada";

const LOGIN = graphql(`
  mutation Login($u: String!, $p: String!, $c: String, $r: String) {
    login(username: $u, password: $p, totpCode: $c, recoveryCode: $r) {
      username
      role
    }
  }
`);

type State = { kind: "idle" } | { kind: "pending" } | { kind: "error"; message: string } | { kind: "signed-in"; username: string };

/** After a right password: the code step (and, for a role that must use TOTP, the QR code to scan first). */
type SecondStep = { username: string; password: string; enrolment?: { secret: string; qrSvg: string } };

/** What the login page says for each single sign-on refusal code (never text from the URL). */
const SSO_REFUSALS: Record<string, string> = {
  no_role: "Single sign-on worked, but none of your groups gives a SQLGuard role. Ask an administrator to map one of your groups.",
  disabled: "Your SQLGuard user is disabled. Ask an administrator.",
  username_taken: "A local SQLGuard user already has your name. Ask an administrator.",
  checks_failed: "The sign-in could not be verified (state, nonce or PKCE check failed). Try again.",
  expired: "The sign-in took too long or was started in another browser. Try again.",
  provider_error: "The identity provider refused the sign-in.",
  not_configured: "Single sign-on is not configured.",
  unavailable: "The identity provider cannot be reached. Try again later.",
  not_admin: "Only an administrator can run a test sign-in.",
};

type Options = { oidcEnabled: boolean; oidcLabel: string; localLoginEnabled: boolean };

/** What a failed sign-in shows: a throttled one says how long to wait. */
function failureMessage(error: unknown): string {
  if (error instanceof GraphQLRequestError && error.code === "RATE_LIMITED") {
    const seconds = error.retryAfterSeconds ?? 60;
    const wait = seconds >= 90 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} second${seconds === 1 ? "" : "s"}`;
    return `Too many failed sign-ins. Try again in ${wait}.`;
  }
  return error instanceof Error ? error.message : "Sign-in failed.";
}

/** Only same-origin paths: `?next=https://evil` must not redirect away. */
function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}

/** Username/password form that signs in through the GraphQL `login` mutation, then opens `?next=` or the dashboard. */
export function LoginForm() {
  const router = useRouter();
  const params = useSearchParams();
  const [state, setState] = useState<State>({ kind: "idle" });
  // The export is static HTML: keep the button disabled until React has hydrated, so an early click
  // cannot fall through to a native form submission.
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
  const [second, setSecond] = useState<SecondStep | null>(null);
  const [options, setOptions] = useState<Options | null>(null);
  useEffect(() => {
    fetch("/auth/options")
      .then((r) => (r.ok ? (r.json() as Promise<Options>) : null))
      .then(setOptions)
      .catch(() => setOptions(null));
  }, []);
  const sso = params.get("sso");
  const ssoMessage = sso ? (SSO_REFUSALS[sso] ?? "Single sign-on failed.") : null;

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const username = second?.username ?? String(form.get("username") ?? "");
    const password = second?.password ?? String(form.get("password") ?? "");
    const code = String(form.get("code") ?? "").trim();
    const recovery = /^\d{6}$/.test(code) ? null : code || null;
    setState({ kind: "pending" });
    try {
      const { login } = await request(LOGIN, { u: username, p: password, c: recovery ? null : code || null, r: recovery });
      if (!login) throw new GraphQLRequestError("Sign-in failed.");
      setState({ kind: "signed-in", username: login.username });
      router.replace(safeNext(params.get("next")));
    } catch (error) {
      if (error instanceof GraphQLRequestError && error.code === "SECOND_FACTOR_REQUIRED") {
        const enrolment = error.extensions.enrolment as SecondStep["enrolment"];
        setSecond({ username, password, enrolment });
        setState({ kind: "idle" });
        return;
      }
      setState({ kind: "error", message: failureMessage(error) });
    }
  }

  if (state.kind === "signed-in") {
    return (
      <p role="status" className="success">
        Signed in as {state.username}. Opening the console…
      </p>
    );
  }

  const pending = state.kind === "pending";
  if (second) {
    return (
      <form className="form" onSubmit={onSubmit} aria-busy={pending}>
        {second.enrolment ? (
          <>
            <p>Your role requires a second factor. Scan this QR code with an authenticator app, then enter its code.</p>
            {/* biome-ignore lint/security/noDangerouslySetInnerHtml: the SVG is made by the server from the otpauth URI. */}
            <div className="qr" role="img" aria-label="TOTP QR code" dangerouslySetInnerHTML={{ __html: second.enrolment.qrSvg }} />
            <p>
              Or type the secret: <code data-testid="totp-secret">{second.enrolment.secret}</code>
            </p>
          </>
        ) : (
          <p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
        )}
        <label htmlFor="code">Authentication code</label>
        {/* biome-ignore lint/a11y/noAutofocus: the code is the only thing left to type. */}
        <input id="code" name="code" type="text" inputMode="text" autoComplete="one-time-code" required autoFocus />
        {state.kind === "error" && (
          <p role="alert" className="error">
            {state.message}
          </p>
        )}
        <button type="submit" disabled={pending}>
          {pending ? "Checking…" : "Verify"}
        </button>
      </form>
    );
  }
  const localOff = options?.localLoginEnabled === false;
  return (
    <form className="form" onSubmit={onSubmit} aria-busy={pending}>
      {ssoMessage && (
        <p role="alert" className="error">
          {ssoMessage}
        </p>
      )}
      {options?.oidcEnabled && (
        <a className="button" href={`/auth/oidc/login?next=${encodeURIComponent(safeNext(params.get("next")))}`}>
          Sign in with {options.oidcLabel}
        </a>
      )}
      {localOff && <p>Password sign-in is turned off; only the break-glass administrator may use it.</p>}
      <label htmlFor="username">Username</label>
      {/* biome-ignore lint/a11y/noAutofocus: the login page has one task, and the username is where it starts. */}
      <input id="username" name="username" type="text" autoComplete="username" required autoFocus />
      <label htmlFor="password">Password</label>
      <input id="password" name="password" type="password" autoComplete="current-password" required />
      {state.kind === "error" && (
        <p role="alert" className="error">
          {state.message}
        </p>
      )}
      <button type="submit" disabled={!hydrated || pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
