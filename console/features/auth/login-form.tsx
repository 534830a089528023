"use client";

import { useEffect, useState, type FormEvent } from "react";
import { GraphQLRequestError, requestGraphQL } from "@/lib/graphql";

const LOGIN = /* GraphQL */ `
  mutation Login($u: String!, $p: String!) {
    login(username: $u, password: $p) {
      username
      role
    }
  }
`;

const ME = /* GraphQL */ `
  {
    me {
      username
      role
    }
  }
`;

interface Viewer {
  username: string;
  role: string;
}

type State = { kind: "idle" } | { kind: "pending" } | { kind: "error"; message: string } | { kind: "signed-in"; viewer: Viewer };

/** Username/password form that signs in through the GraphQL `login` mutation and then reads `me`. */
export function LoginForm() {
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
      await requestGraphQL(LOGIN, { u: String(form.get("username") ?? ""), p: String(form.get("password") ?? "") });
      const { me } = await requestGraphQL<{ me: Viewer | null }>(ME);
      if (!me) throw new GraphQLRequestError("Signed in, but the session was not kept.");
      setState({ kind: "signed-in", viewer: me });
    } catch (error) {
      const message = error instanceof Error ? error.message : "Sign-in failed.";
      setState({ kind: "error", message });
    }
  }

  if (state.kind === "signed-in") {
    return (
      <p role="status" className="success">
        Signed in as {state.viewer.username} ({state.viewer.role})
      </p>
    );
  }

  const pending = state.kind === "pending";
  return (
    <form className="form" onSubmit={onSubmit} aria-busy={pending}>
      <label htmlFor="username">Username</label>
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
