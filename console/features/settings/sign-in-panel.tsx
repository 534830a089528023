"use client";

import { useState, type FormEvent } from "react";
import { useViewer } from "@/features/shell/viewer";
import { GraphQLRequestError, request } from "@/lib/graphql";
import { graphql } from "@/lib/graphql-tada";
import { useQuery } from "@/lib/use-query";
import { roleLabel } from "@/lib/labels";

const SETTINGS = graphql(`
  query SignInSettings {
    signInSettings {
      oidcEnabled
      issuer
      clientId
      clientSecretSet
      scopes
      label
      roleClaim
      roleMappings {
        value
        role
      }
      defaultRole
      localLoginEnabled
      breakGlassUser
      totpRequiredRoles
      lastTest {
        at
        ok
        message
      }
    }
  }
`);

const UPDATE = graphql(`
  mutation UpdateSignInSettings($input: SignInSettingsInput!) {
    updateSignInSettings(input: $input) {
      oidcEnabled
    }
  }
`);

const MY_TOTP = graphql(`
  query MyTotp {
    myTotp {
      enabled
      recoveryCodesLeft
      required
    }
  }
`);

const BEGIN = graphql(`
  mutation BeginTotp {
    beginTotpEnrolment {
      secret
      qrSvg
    }
  }
`);

const CONFIRM = graphql(`
  mutation ConfirmTotp($code: String!) {
    confirmTotpEnrolment(code: $code)
  }
`);

const DISABLE = graphql(`
  mutation DisableTotp($code: String!) {
    disableTotp(code: $code)
  }
`);

const ROLES = ["ADMIN", "OPERATOR", "VIEWER"] as const;
type Role = (typeof ROLES)[number];

function message(error: unknown): string {
  return error instanceof GraphQLRequestError || error instanceof Error ? error.message : "Failed.";
}

/** Settings → Sign-in: single sign-on (admins), the local login switch, TOTP enforcement, and the caller's own TOTP. */
export function SignInPanel() {
  const viewer = useViewer();
  return (
    <>
      {viewer.canEdit && <OidcSettings />}
      <MyTotp />
    </>
  );
}

function OidcSettings() {
  const { data, error, refetch } = useQuery(SETTINGS);
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const s = data?.signInSettings;
  if (error) return <p role="alert">{error.message}</p>;
  if (!s) return <p>Loading…</p>;

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const mappings = String(f.get("roleMappings") ?? "")
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const [value, role] = line.split(/\s*(?:=|→|->)\s*/);
        return { value: value ?? "", role: (role ?? "").toUpperCase() as Role };
      });
    const secret = String(f.get("clientSecret") ?? "");
    const defaultRole = String(f.get("defaultRole") ?? "");
    try {
      await request(UPDATE, {
        input: {
          oidcEnabled: f.get("oidcEnabled") === "on",
          issuer: String(f.get("issuer") ?? ""),
          clientId: String(f.get("clientId") ?? ""),
          ...(secret ? { clientSecret: secret } : {}),
          scopes: String(f.get("scopes") ?? ""),
          label: String(f.get("label") ?? ""),
          roleClaim: String(f.get("roleClaim") ?? ""),
          roleMappings: mappings,
          defaultRole: defaultRole ? (defaultRole as Role) : null,
          localLoginEnabled: f.get("localLoginEnabled") === "on",
          totpRequiredRoles: ROLES.filter((r) => f.get(`totp-${r}`) === "on"),
        },
      });
      setStatus({ ok: true, text: "Sign-in settings saved." });
      refetch();
    } catch (e) {
      setStatus({ ok: false, text: message(e) });
    }
  }

  return (
    <section aria-labelledby="oidc-heading">
      <h2 id="oidc-heading">Single sign-on (OIDC)</h2>
      <form className="form" onSubmit={onSubmit}>
        <label>
          <input type="checkbox" name="oidcEnabled" defaultChecked={s.oidcEnabled} /> Single sign-on on
        </label>
        <label htmlFor="oidc-issuer">Issuer URL</label>
        <input id="oidc-issuer" name="issuer" defaultValue={s.issuer ?? ""} placeholder="https://login.example.com/realms/ops" />
        <label htmlFor="oidc-client-id">Client ID</label>
        <input id="oidc-client-id" name="clientId" defaultValue={s.clientId ?? ""} />
        <label htmlFor="oidc-client-secret">Client secret</label>
        <input
          id="oidc-client-secret"
          name="clientSecret"
          type="password"
          autoComplete="off"
          placeholder={s.clientSecretSet ? "set (leave empty to keep)" : "not set"}
        />
        <label htmlFor="oidc-scopes">Scopes</label>
        <input id="oidc-scopes" name="scopes" defaultValue={s.scopes} />
        <label htmlFor="oidc-label">Button label</label>
        <input id="oidc-label" name="label" defaultValue={s.label} />
        <label htmlFor="oidc-claim">Role claim</label>
        <input id="oidc-claim" name="roleClaim" defaultValue={s.roleClaim} />
        <label htmlFor="oidc-mappings">Role mappings (one per line: group = ROLE)</label>
        <textarea id="oidc-mappings" name="roleMappings" rows={4} defaultValue={s.roleMappings.map((m) => `${m.value} = ${m.role}`).join("\n")} />
        <label htmlFor="oidc-default">Anyone else</label>
        <select id="oidc-default" name="defaultRole" defaultValue={s.defaultRole ?? ""}>
          <option value="">Refused</option>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {roleLabel(r)}
            </option>
          ))}
        </select>
        <label>
          <input type="checkbox" name="localLoginEnabled" defaultChecked={s.localLoginEnabled} /> Local (password) login on — when off, only {s.breakGlassUser}{" "}
          (break-glass) may use a password
        </label>
        <fieldset>
          <legend>Roles that must use TOTP</legend>
          {ROLES.map((r) => (
            <label key={r}>
              <input type="checkbox" name={`totp-${r}`} defaultChecked={s.totpRequiredRoles.includes(r)} /> {roleLabel(r)}
            </label>
          ))}
        </fieldset>
        {status && (
          <p role={status.ok ? "status" : "alert"} className={status.ok ? "success" : "error"}>
            {status.text}
          </p>
        )}
        <button type="submit">Save sign-in settings</button>
      </form>
      <p>
        <a className="button" href="/auth/oidc/login?test=1">
          Test sign-in
        </a>
      </p>
      {s.lastTest && (
        <p role="status" data-testid="oidc-last-test" className={s.lastTest.ok ? "success" : "error"}>
          Last test ({new Date(s.lastTest.at as string).toLocaleString()}): {s.lastTest.message}
        </p>
      )}
    </section>
  );
}

function MyTotp() {
  const { data, refetch } = useQuery(MY_TOTP);
  const [enrolment, setEnrolment] = useState<{ secret: string; qrSvg: string } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const totp = data?.myTotp;

  async function begin() {
    setProblem(null);
    try {
      setEnrolment((await request(BEGIN)).beginTotpEnrolment);
    } catch (e) {
      setProblem(message(e));
    }
  }

  async function confirm(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget).get("code") ?? "");
    try {
      setCodes((await request(CONFIRM, { code })).confirmTotpEnrolment);
      setEnrolment(null);
      setProblem(null);
      refetch();
    } catch (e) {
      setProblem(message(e));
    }
  }

  async function disable(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget).get("code") ?? "");
    try {
      await request(DISABLE, { code });
      setProblem(null);
      refetch();
    } catch (e) {
      setProblem(message(e));
    }
  }

  return (
    <section aria-labelledby="totp-heading">
      <h2 id="totp-heading">Your second factor (TOTP)</h2>
      {totp && (
        <p>{totp.enabled ? `TOTP is on; ${totp.recoveryCodesLeft} recovery codes left.` : `TOTP is off${totp.required ? " (your role requires it)" : ""}.`}</p>
      )}
      {codes && (
        <div role="status">
          <p>Recovery codes (shown only this once; each works once):</p>
          <ul data-testid="recovery-codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
      {totp && !totp.enabled && !enrolment && (
        <button type="button" onClick={begin}>
          Set up TOTP
        </button>
      )}
      {enrolment && (
        <form className="form" onSubmit={confirm}>
          {/* biome-ignore lint/security/noDangerouslySetInnerHtml: the SVG is made by the server from the otpauth URI. */}
          <div className="qr" role="img" aria-label="TOTP QR code" dangerouslySetInnerHTML={{ __html: enrolment.qrSvg }} />
          <p>
            Secret: <code data-testid="totp-secret">{enrolment.secret}</code>
          </p>
          <label htmlFor="totp-confirm">Code from the app</label>
          <input id="totp-confirm" name="code" autoComplete="one-time-code" required />
          <button type="submit">Turn TOTP on</button>
        </form>
      )}
      {totp?.enabled && !totp.required && (
        <form className="form" onSubmit={disable}>
          <label htmlFor="totp-disable">Current code</label>
          <input id="totp-disable" name="code" autoComplete="one-time-code" required />
          <button type="submit">Turn TOTP off</button>
        </form>
      )}
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
    </section>
  );
}
