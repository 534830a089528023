"use client";

import { formatDateTime } from "@/lib/format";
import { graphql } from "@/lib/graphql-tada";
import { useQuery } from "@/lib/use-query";

const CONFIGURATION_DRIFT = graphql(`
  query ConfigurationDrift {
    configurationDrift {
      file
      appliedAt
      differing
      objects {
        kind
        name
        change
      }
    }
  }
`);

const CHANGE_WORD = { CREATE: "missing (the file creates it)", UPDATE: "changed", DELETE: "not in the file (prune deletes it)" } as const;

/**
 * "3 objects differ from sqlguard.yaml": shown when the server applies SQLGUARD_CONFIG_FILE and
 * something was changed since through the console or the API; expands to the objects. Nothing
 * when there is no file, nothing differs, or the drift cannot be computed.
 */
export function ConfigDriftBanner() {
  const { data } = useQuery(CONFIGURATION_DRIFT);
  const drift = data?.configurationDrift;
  if (!drift || drift.differing === 0) return null;
  const name = drift.file.split("/").pop() ?? drift.file;
  return (
    <section className="panel warn-box" aria-label="Configuration drift" data-testid="config-drift">
      <details>
        <summary className="warn-text">
          {drift.differing} {drift.differing === 1 ? "object differs" : "objects differ"} from {name}
        </summary>
        <p className="muted small">
          Changed since {drift.file} was applied ({formatDateTime(drift.appliedAt as string | null)}). The server applies the file again on restart or SIGHUP;{" "}
          <code>sqlguard config diff -f {name}</code> shows each field.
        </p>
        <ul>
          {drift.objects.map((o) => (
            <li key={`${o.kind}/${o.name}`}>
              {o.kind} <strong>{o.name}</strong>: {CHANGE_WORD[o.change]}
            </li>
          ))}
        </ul>
      </details>
    </section>
  );
}
