"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { GraphQLRequestError, request } from "@/lib/graphql";
import { graphql } from "@/lib/graphql-tada";

const LOGIN = graphql(`
  mutation Login($u: String!, $p: String!) {
    login(username: $u, password: $p) {
      username
      role
    }
  }
`);

type State = { kind: "idle" } | { kind: "pending" } | { kind: "error"; message: string } | { kind: "signed-in"; username: string };

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

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setState({ kind: "pending" });
    try {
      const { login } = await request(LOGIN, {
        u: String(form.get("username") ?? ""),
        p: String(form.get("password") ?? ""),
      });
      if (!login) throw new GraphQLRequestError("Sign-in failed.");
      setState({ kind: "signed-in", username: login.username });
      router.replace(safeNext(params.get("next")));
    } catch (error) {
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
  return (
    <form className="form" onSubmit={onSubmit} aria-busy={pending}>
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
