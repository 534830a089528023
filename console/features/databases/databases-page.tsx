"use client";

import Link from "next/link";
import { useState } from "react";
import { useQuery } from "@/lib/use-query";
import { Empty, ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { StatusBadge } from "@/components/ui/status";
import { formatInstant } from "@/lib/format";
import { TextField } from "@/components/ui/field";
import { databaseHref } from "./links";
import { KNOWN_DATABASES } from "./queries";

/**
 * `/databases/`: every database the backup history knows, by server name, including those of
 * servers deleted since; a search box narrows it by server or database name.
 */
export function DatabasesPage() {
  const { data, error } = useQuery(KNOWN_DATABASES);
  const [search, setSearch] = useState("");
  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading the databases" />}</>;
  const needle = search.trim().toLowerCase();
  const rows = data.knownDatabases.filter((k) => !needle || k.serverName.toLowerCase().includes(needle) || k.database.toLowerCase().includes(needle));
  return (
    <>
      <PageHeader title="Databases" />
      <ErrorMessage error={error} />
      <section className="panel" aria-labelledby="known-heading">
        <h2 id="known-heading">Backed-up databases</h2>
        <TextField
          label="Find by server or database name"
          type="search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          autoComplete="off"
          hint="Servers deleted since are listed too: their backups keep the server's name."
        />
        {rows.length === 0 ? (
          <Empty>{data.knownDatabases.length === 0 ? "No backup yet." : `No database matches "${search.trim()}".`}</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Server / database</th>
                  <th scope="col">Backups</th>
                  <th scope="col">Last backup</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((k) => (
                  <tr key={`${k.serverName}\u0000${k.database}`} data-testid="known-database">
                    <td>
                      <Link href={databaseHref(k.serverName, k.database)}>
                        {k.serverName} / {k.database}
                      </Link>{" "}
                      {k.serverDeleted && <StatusBadge status="SERVER DELETED" />}
                    </td>
                    <td>{k.backups}</td>
                    <td className="nowrap">{formatInstant(k.lastBackupAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
