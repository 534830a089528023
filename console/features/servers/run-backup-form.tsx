"use client";

import Link from "next/link";
import { useEffect, useState, type FormEvent } from "react";
import { messageOf, request } from "@/lib/graphql";
import { CheckGroup } from "@/components/ui/field";
import { ErrorMessage, Loading } from "@/components/ui/states";
import { RUN_BACKUP, TEST_SERVER, type ConnectionTest, type Server } from "./queries";

/**
 * "Back up now": lists the databases the server would back up (through a connection test) and the
 * targets, then starts one backup per chosen database. Nothing chosen = all / the default targets.
 */
export function RunBackupForm({
  server,
  targets,
  onClose,
}: {
  server: Server;
  targets: ReadonlyArray<{ id: string; name: string; isDefault: boolean; enabled: boolean }>;
  onClose: () => void;
}) {
  const [test, setTest] = useState<ConnectionTest>();
  const [testError, setTestError] = useState<unknown>();
  const [databases, setDatabases] = useState<string[]>([]);
  const [targetIds, setTargetIds] = useState<string[]>(targets.filter((t) => t.isDefault && t.enabled).map((t) => String(t.id)));
  const [started, setStarted] = useState<Array<{ id: string; database: string }>>();
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    request(TEST_SERVER, { id: server.id }).then(({ testServerConnection }) => {
      setTest(testServerConnection);
      setDatabases(testServerConnection.databases);
    }, setTestError);
  }, [server.id]);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (test?.ok && databases.length === 0) {
      setFailure(new Error("Choose at least one database."));
      return;
    }
    setBusy(true);
    setFailure(undefined);
    try {
      const { runBackup } = await request(RUN_BACKUP, {
        input: { serverId: server.id, databases, storageTargetIds: targetIds },
      });
      setStarted(runBackup);
    } catch (error) {
      setFailure(new Error(messageOf(error)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel" aria-labelledby="run-heading">
      <h2 id="run-heading">Back up {server.name} now</h2>
      {started ? (
        <div role="status">
          <p>
            Started {started.length} backup{started.length === 1 ? "" : "s"}:
          </p>
          <ul>
            {started.map((b) => (
              <li key={b.id}>
                <Link href={`/backups/detail/?id=${b.id}`}>
                  Backup #{b.id} of {b.database}
                </Link>
              </li>
            ))}
          </ul>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      ) : (
        <form className="edit-form" onSubmit={onSubmit}>
          {!test && !testError && <Loading what="Listing databases" />}
          <ErrorMessage error={testError} />
          {test && !test.ok && <p className="error-box">Cannot list databases: {test.error}</p>}
          {test?.ok && (
            <CheckGroup
              legend="Databases"
              name="databases"
              options={test.databases.map((d) => ({ value: d, label: d }))}
              selected={databases}
              onChange={setDatabases}
            />
          )}
          <CheckGroup
            legend="Storage targets"
            name="targets"
            hint="None chosen = the default targets."
            options={targets.filter((t) => t.enabled).map((t) => ({ value: String(t.id), label: `${t.name}${t.isDefault ? " (default)" : ""}` }))}
            selected={targetIds}
            onChange={setTargetIds}
          />
          <div className="wide">
            <ErrorMessage error={failure} />
          </div>
          <div className="form-actions">
            <button type="submit" className="primary" disabled={busy || (!test && !testError)}>
              {busy ? "Starting…" : "Start backup"}
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
