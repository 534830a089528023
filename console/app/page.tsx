import Link from "next/link";

/** Placeholder home page until the full console lands. */
export default function HomePage() {
  return (
    <section className="card">
      <h1>SQLGuard</h1>
      <p>The full console is coming soon. For now you can sign in and check your account.</p>
      <p>
        <Link href="/login/">Sign in</Link>
      </p>
    </section>
  );
}
