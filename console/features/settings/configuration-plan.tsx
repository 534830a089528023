"use client";

import type { ResultOf } from "@/lib/graphql-tada";
import type { PLAN_CONFIGURATION } from "./queries";

export type ConfigurationPlan = ResultOf<typeof PLAN_CONFIGURATION>["planConfiguration"];

const ACTION = {
  CREATE: { word: "create", tone: "tone-ok", sign: "+" },
  UPDATE: { word: "update", tone: "tone-warn", sign: "~" },
  DELETE: { word: "delete", tone: "tone-bad", sign: "-" },
} as const;

/** A before/after value as the plan shows it: JSON from the server, strings bare, "—" for none. */
export function planValue(json: string | null | undefined): string {
  if (json == null) return "—";
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return json;
  }
  if (value == null) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * A configuration plan: every object to create, update or delete with its fields before → after
 * (secrets only as set / changed), the warnings, and "No changes" when the installation matches.
 */
export function ConfigurationPlanView({ plan }: { plan: ConfigurationPlan }) {
  return (
    <div data-testid="config-plan">
      <p className={plan.empty ? "ok-box" : undefined} role="status" data-testid="config-plan-summary">
        {plan.empty ? "No changes: the installation matches the document." : plan.applied ? `Applied: ${plan.summary}` : plan.summary}
        {plan.prune && !plan.empty && " (with prune)"}
      </p>
      {plan.warnings.length > 0 && (
        <ul className="warn-box panel" aria-label="Warnings" data-testid="config-warnings">
          {plan.warnings.map((w) => (
            <li key={w} className="warn-text">
              {w}
            </li>
          ))}
        </ul>
      )}
      {plan.changes.map((change) => {
        const action = ACTION[change.action];
        return (
          <section
            key={`${change.kind}/${change.name}`}
            className="panel"
            aria-label={`${action.word} ${change.kind} ${change.name}`}
            data-testid="config-change"
          >
            <h3>
              <span className={`badge ${action.tone}`}>
                {action.sign} {action.word}
              </span>{" "}
              {change.kind} <strong>{change.name}</strong>
            </h3>
            {change.fields.length > 0 && (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Field</th>
                      <th scope="col">Before</th>
                      <th scope="col">After</th>
                    </tr>
                  </thead>
                  <tbody>
                    {change.fields.map((f) => (
                      <tr key={f.field} data-testid="config-field">
                        <th scope="row">
                          <code>{f.field}</code>
                          {f.secret && <span className="muted small"> (secret)</span>}
                        </th>
                        <td className="mono">{planValue(f.before)}</td>
                        <td className="mono">{planValue(f.after)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        );
      })}
    </div>
  );
}
