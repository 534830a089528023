"use client";

import type { RestorePreflight } from "./queries";

/**
 * What the pre-flight found, in words: every object the restoring user could not create (its
 * definer and what the user lacks), the warnings, or that nothing is in the way.
 */
export function PreflightReport({ result }: { result: RestorePreflight }) {
  const { problems, warnings, restoringUser, definers } = result;
  return (
    <section className={problems.length ? "error-box preflight" : "ok-box preflight"} aria-label="Pre-flight" aria-live="polite">
      {problems.length ? (
        <>
          <p>
            Restoring as <strong>{restoringUser}</strong> would fail: {problems.length} {problems.length === 1 ? "problem" : "problems"}.
          </p>
          <ul>
            {problems.map((p) => (
              <li key={`${p.kind} ${p.name} ${p.problem}`}>{p.problem}</li>
            ))}
          </ul>
        </>
      ) : (
        <p>
          Nothing in the way: <strong>{restoringUser}</strong> may create every object of the dump
          {definers.length ? ` (defined by ${definers.join(", ")})` : ""}.
        </p>
      )}
      {warnings.length > 0 && (
        <ul className="warn-text">
          {warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
