import type { Metadata } from "next";
import { Suspense } from "react";
import { LoginForm } from "@/features/auth/login-form";

export const metadata: Metadata = { title: "Sign in" };

/** Login page: the form is a client component, the page itself is static. */
export default function LoginPage() {
  return (
    <main className="center">
      <section className="card">
        <h1>Sign in to SQLGuard</h1>
        <Suspense>
          <LoginForm />
        </Suspense>
      </section>
    </main>
  );
}
