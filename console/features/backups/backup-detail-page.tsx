"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useCallback, useState } from "react";
import { messageOf, request } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { formatBytes, formatDateTime, formatMs, formatRate, formatInstant } from "@/lib/format";
import { compressionLabel, engineLabel, storageKindLabel, triggerLabel, verificationLabel } from "@/lib/labels";
import type { TypedDocumentNode } from "@urql/core";
import type { BackupStatus } from "@/lib/types";
import { useConfirm, type ConfirmOptions } from "@/components/ui/confirm-dialog";
import { ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { StatusBadge } from "@/components/ui/status";
import { useViewer } from "@/features/shell/viewer";
import { BACKUP, CANCEL_BACKUP, DELETE_BACKUP, REPAIR_BACKUP, VERIFY_BACKUP } from "./queries";
import { databaseHref } from "@/features/databases/links";
import { RestoreForm } from "./restore-form";
import { RestoresTable } from "./restores-table";
import { useBackupEvents, type BackupEventData } from "./use-backup-events";

const ACTIVE: BackupStatus[] = ["PENDING", "RUNNING"];

type Key = { id: string; label: string; fingerprint: string };

/** "none", or "age, opens with: instance key (1a2b…), vault (3c4d…)" from the keys its stored copies record. */
function encryptionOf(b: { encryption: string; artifacts: ReadonlyArray<{ encryptionKeyIds: string[] }> }, keys: ReadonlyArray<Key>): string {
  if (b.encryption !== "AGE") return "none";
  const ids = [...new Set(b.artifacts.flatMap((a) => a.encryptionKeyIds))];
  if (!ids.length) return "age";
  const names = ids.map((id) => {
    const key = keys.find((k) => k.id === id);
    return key ? `${key.label} (${key.fingerprint})` : `key #${id}`;
  });
  return `age, opens with: ${names.join(", ")}`;
}

/** One backup: timings, sizes, checksum, artifacts per target, restores, log tail, error; download / cancel / verify / restore / delete. */
export function BackupDetailPage() {
  const params = useSearchParams();
  const raw = params.get("id");
  const id = raw && /^\d+$/.test(raw) ? raw : undefined;
  const viewer = useViewer();
  const { data, error, refetch } = useQuery(BACKUP, { id: id ?? "" }, { skip: id === undefined });
  const [live, setLive] = useState<BackupEventData>();
  const [busy, setBusy] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const [restoring, setRestoring] = useState(false);
  const [repairNote, setRepairNote] = useState<string>();
  const confirm = useConfirm();

  const onEvent = useCallback(
    (event: BackupEventData) => {
      if (event.type === "PROGRESS") setLive(event);
      else refetch();
    },
    [refetch],
  );
  useBackupEvents(onEvent, { backupId: id, skip: id === undefined, onOpen: refetch });

  async function act(label: string, mutation: TypedDocumentNode<unknown, { id: string }>, question?: ConfirmOptions) {
    if (id === undefined) return;
    if (question && !(await confirm(question))) return;
    setBusy(label);
    setFailure(undefined);
    try {
      await request(mutation, { id });
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    } finally {
      setBusy(undefined);
    }
  }

  async function repair() {
    if (id === undefined) return;
    setBusy("repair");
    setFailure(undefined);
    setRepairNote(undefined);
    try {
      const { repairBackup: r } = await request(REPAIR_BACKUP, { id });
      const parts = [r.repaired.length ? `Copied to ${r.repaired.join(", ")}.` : "", ...r.failed.map((f) => `${f.target}: ${f.error}`)];
      setRepairNote(parts.filter(Boolean).join(" ") || "Nothing was missing.");
      if (r.failed.length) setFailure(new Error(`Repair incomplete: ${r.failed.map((f) => `${f.target}: ${f.error}`).join("; ")}`));
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    } finally {
      setBusy(undefined);
    }
  }

  if (id === undefined) return <ErrorMessage error={new Error("No backup id in the address: open a backup from the history.")} />;
  if (!data) return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading the backup" />}</>;
  const b = data.backup;
  const running = ACTIVE.includes(b.status);
  const restorable = b.artifacts.some((a) => a.status === "STORED" && a.storageTargetId !== null);

  return (
    <>
      <p className="small">
        <Link href="/backups/">← Backups</Link>
      </p>
      <PageHeader title={`Backup #${b.id}`}>
        <span aria-live="polite" data-testid="backup-status">
          <StatusBadge status={b.status} />
        </span>
        {viewer.canOperate && running && (
          <button
            type="button"
            className="danger"
            disabled={!!busy}
            onClick={() =>
              act("cancel", CANCEL_BACKUP, {
                title: `Cancel backup #${b.id}?`,
                message: "The dump stops and nothing is stored.",
                confirmLabel: "Cancel backup",
                cancelLabel: "Keep running",
              })
            }
          >
            {busy === "cancel" ? "Cancelling…" : "Cancel backup"}
          </button>
        )}
        {viewer.canOperate && (b.status === "SUCCEEDED" || b.status === "PARTIAL") && (
          <button type="button" disabled={!!busy} onClick={() => act("verify", VERIFY_BACKUP)}>
            {busy === "verify" ? "Verifying…" : "Verify checksums"}
          </button>
        )}
        {viewer.canOperate && b.copyProblems.length > 0 && restorable && (
          <button type="button" disabled={!!busy} onClick={repair}>
            {busy === "repair" ? "Repairing…" : "Repair missing copies"}
          </button>
        )}
        {viewer.canOperate && restorable && !restoring && (
          <button type="button" disabled={!!busy} onClick={() => setRestoring(true)}>
            Restore…
          </button>
        )}
        {viewer.canEdit && !running && b.status !== "DELETED" && (
          <button
            type="button"
            className="danger"
            disabled={!!busy}
            onClick={() =>
              act("delete", DELETE_BACKUP, {
                title: `Delete backup #${b.id}?`,
                message: `Every stored copy of ${b.database} from ${formatDateTime(b.createdAt)} is removed from its storage target. The record stays in the history as Deleted.`,
                confirmLabel: "Delete backup",
              })
            }
          >
            {busy === "delete" ? "Deleting…" : "Delete"}
          </button>
        )}
      </PageHeader>
      <ErrorMessage error={failure} />
      {repairNote && (
        <p role="status" className="small">
          {repairNote}
        </p>
      )}
      {b.copyProblems.length > 0 && (
        <section className="panel" aria-labelledby="copies-heading" data-testid="copy-problems">
          <h2 id="copies-heading">Missing or damaged copies</h2>
          <ul className="plain-list">
            {b.copyProblems.map((c) => (
              <li key={c.storageTargetId}>
                <strong>{c.target}</strong> <StatusBadge status={c.status} /> {c.error && <span className="error-cell">{c.error}</span>}
              </li>
            ))}
          </ul>
        </section>
      )}
      {restoring && <RestoreForm backup={b} canOverwrite={viewer.canEdit} onClose={() => setRestoring(false)} onEnd={refetch} />}

      <div className="grid-2">
        <section className="panel" aria-labelledby="summary-heading">
          <h2 id="summary-heading">Summary</h2>
          <dl className="props">
            <dt>Server</dt>
            <dd>
              {b.server ? <Link href={`/backups/?server=${b.server.id}`}>{b.serverName}</Link> : b.serverName} ({engineLabel(b.engine)}
              {b.serverVersion ? ` ${b.serverVersion}` : ""})
            </dd>
            <dt>Database</dt>
            <dd>
              <Link href={databaseHref(b.serverName, b.database)}>{b.database}</Link>
            </dd>
            <dt>Schedule</dt>
            <dd>{b.scheduleName ?? "—"}</dd>
            <dt>Trigger</dt>
            <dd>
              {triggerLabel(b.trigger)} (attempt {b.attempt})
            </dd>
            <dt>Tool</dt>
            <dd className="mono">{b.tool ?? "—"}</dd>
            <dt>Compression</dt>
            <dd>{compressionLabel(b.compression)}</dd>
            <dt>Encryption</dt>
            <dd data-testid="encryption">{encryptionOf(b, data.encryptionKeys)}</dd>
            <dt>SHA-256</dt>
            <dd className="mono" data-testid="sha256">
              {b.sha256 ?? "—"}
            </dd>
            {b.position && (
              <>
                <dt>Position</dt>
                <dd className="mono">{b.position}</dd>
              </>
            )}
          </dl>
        </section>
        <section className="panel" aria-labelledby="timing-heading">
          <h2 id="timing-heading">Timings and sizes</h2>
          <dl className="props">
            <dt>Created</dt>
            <dd>{formatInstant(b.createdAt)}</dd>
            {b.dueAt && (
              <>
                <dt>Due</dt>
                <dd>{formatInstant(b.dueAt)}</dd>
              </>
            )}
            <dt>Started</dt>
            <dd>{formatInstant(b.startedAt)}</dd>
            <dt>Finished</dt>
            <dd>{formatInstant(b.finishedAt)}</dd>
            <dt>Duration</dt>
            <dd>{formatMs(b.durationMs)}</dd>
            <dt>Dumped</dt>
            <dd>{formatBytes(running ? (live?.rawBytes ?? b.rawBytes) : b.rawBytes)}</dd>
            <dt>Stored</dt>
            <dd>{formatBytes(running ? (live?.storedBytes ?? b.progressBytes) : b.storedBytes)}</dd>
            {running && (
              <>
                <dt>Rate</dt>
                <dd>{formatRate(live?.bytesPerSecond)}</dd>
              </>
            )}
          </dl>
        </section>
      </div>

      {b.warnings.length > 0 && (
        <section className="panel warn-box" aria-labelledby="warnings-heading" data-testid="backup-warnings">
          <h2 id="warnings-heading">{b.warnings.length === 1 ? "Warning" : `${b.warnings.length} warnings`}: this backup may miss objects</h2>
          <ul>
            {b.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </section>
      )}

      {b.error && (
        <section className="panel" aria-labelledby="error-heading">
          <h2 id="error-heading">Error</h2>
          <p className="error-cell">{b.error}</p>
        </section>
      )}

      <section className="panel" aria-labelledby="artifacts-heading">
        <h2 id="artifacts-heading">Artifacts</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Target</th>
                <th scope="col">Status</th>
                <th scope="col">Key</th>
                <th scope="col">Size</th>
                <th scope="col">Verified</th>
                <th scope="col">
                  <span className="sr-only">Download</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {b.artifacts.map((a) => (
                <tr key={a.id} data-testid="artifact-row">
                  <td>{a.storageTarget ? `${a.storageTarget.name} (${storageKindLabel(a.storageTarget.kind)})` : "deleted target"}</td>
                  <td>
                    <StatusBadge status={a.status} />
                    {a.error && <div className="error-cell">{a.error}</div>}
                  </td>
                  <td className="mono">{a.key}</td>
                  <td>{formatBytes(a.sizeBytes)}</td>
                  <td className="small">{a.verifyResult ? `${verificationLabel(a.verifyResult)} ${formatInstant(a.verifiedAt)}` : "never"}</td>
                  <td>
                    <div className="row-actions">
                      {viewer.canOperate && a.status === "STORED" && a.storageTargetId !== null && (
                        <a
                          className="button"
                          href={`/api/backups/${b.id}/download?storageTargetId=${a.storageTargetId}`}
                          download
                          aria-label={`Download from ${a.storageTarget?.name ?? "target"}`}
                        >
                          Download
                        </a>
                      )}
                      {viewer.canOperate && a.status === "STORED" && a.storageTargetId !== null && (
                        <a
                          className="button"
                          href={`/api/backups/${b.id}/download?storageTargetId=${a.storageTargetId}&file=manifest`}
                          download
                          aria-label={`Download the manifest from ${a.storageTarget?.name ?? "target"}`}
                        >
                          Manifest
                        </a>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p className="small muted">
          Checksum of every copy: SHA-256 above. Check a download with <code>sha256sum</code>.
          {b.encryption === "AGE" && (
            <>
              {" "}
              The copies are age files: open one with <code>age -d -i key.txt FILE</code>, then decompress. A copy rewrapped to new keys has a new SHA-256,
              named in its manifest.
            </>
          )}
        </p>
      </section>

      {b.restores.length > 0 && <RestoresTable restores={b.restores} />}

      <section className="panel" aria-labelledby="log-heading">
        <h2 id="log-heading">Log tail</h2>
        {b.logTail ? <pre className="log">{b.logTail}</pre> : <p className="muted">The dump program wrote nothing to stderr.</p>}
      </section>
    </>
  );
}
