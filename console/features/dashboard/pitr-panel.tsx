"use client";

import { graphql } from "@/lib/graphql-tada";
import { useQuery } from "@/lib/use-query";
import { PitrWindow } from "@/features/databases/pitr-window";

const PITR_SERVERS = graphql(`
  query PitrServers {
    servers {
      id
      name
      pitr {
        enabled
        lagSeconds
        recoverableFrom
        recoverableTo
        broken
        brokenReason
        warning
      }
    }
  }
`);

/** The dashboard's point-in-time recovery windows: one line per server with binlog archiving on; nothing when none has it. */
export function PitrPanel() {
  const { data } = useQuery(PITR_SERVERS);
  const servers = (data?.servers ?? []).filter((s) => s.pitr.enabled);
  if (!servers.length) return null;
  return (
    <section aria-labelledby="pitr-heading" className="panel" data-testid="pitr-panel">
      <h2 id="pitr-heading">Point-in-time recovery</h2>
      <ul className="plain">
        {servers.map((s) => (
          <li key={s.id}>
            <strong>{s.name}</strong>: <PitrWindow pitr={s.pitr} />
          </li>
        ))}
      </ul>
    </section>
  );
}
