"use client";

import { useState } from "react";
import { messageOf, request } from "@/lib/graphql";
import { formatDateTime } from "@/lib/format";
import { useQuery } from "@/lib/use-query";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { ErrorMessage, Loading } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { ENCRYPTION_KEYS, RETIRE_ENCRYPTION_KEY, type EncryptionKey } from "./queries";
import { RecoveryKeyForm } from "./recovery-key-form";
import { RewrapSection } from "./rewrap-section";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "3 backups depend on it (4 stored copies)", or that none does. */
function dependents(key: EncryptionKey): string {
  if (key.backupCount === 0) return "No backup depends on it";
  const copies = key.artifactCount === key.backupCount ? "" : ` (${plural(key.artifactCount, "stored copy", "stored copies")})`;
  return `${plural(key.backupCount, "backup")} ${key.backupCount === 1 ? "depends" : "depend"} on it${copies}`;
}

/**
 * Encryption keys: the instance key and the recovery recipients every encrypted backup is written
 * to, with the backups that depend on each. Everyone reads the list (the API lets viewers); admins
 * add recovery keys and retire keys.
 */
export function EncryptionPanel() {
  const confirm = useConfirm();
  const viewer = useViewer();
  const { data, error, refetch } = useQuery(ENCRYPTION_KEYS);
  const [notice, setNotice] = useState<string>();
  const [failure, setFailure] = useState<unknown>();

  async function retire(key: EncryptionKey) {
    const still = key.kind === "INSTANCE" ? "SQLGuard keeps its private half" : "keep its private half";
    const kept = key.backupCount > 0 ? `${dependents(key)}. They still open with it after it is retired: ${still}.` : "No backup depends on it.";
    const next = key.kind === "INSTANCE" ? " The next encrypted backup generates a new instance key." : " New backups leave it out.";
    if (!(await confirm({ title: `Retire key ${key.label}?`, message: `${kept}${next}`, confirmLabel: "Retire key" }))) return;
    setFailure(undefined);
    try {
      await request(RETIRE_ENCRYPTION_KEY, { id: key.id });
      setNotice(`Retired key ${key.label}.`);
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  function added(key: EncryptionKey) {
    setFailure(undefined);
    setNotice(`Added recovery key ${key.label} (fingerprint ${key.fingerprint}). New encrypted backups are also written to it.`);
    refetch();
  }

  return (
    <>
      <p className="hint">
        Backups of a dump option profile with <strong>Encryption: age</strong> are encrypted, after compression, to every key here that is not retired. SQLGuard
        holds the instance key&apos;s private half (sealed in its metadata) for restores, verification and drills; the private halves of recovery keys stay with
        you.
      </p>
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={failure} />
      {data && !data.encryptionKeys.some((k) => k.kind === "RECOVERY" && !k.retiredAt) && (
        <p className="panel warn-box" role="note" aria-label="No recovery key">
          <span className="warn-text">No recovery key yet.</span> Encrypted backups then open only with the instance key, kept in SQLGuard&apos;s metadata: lose
          the server and its metadata, and they cannot be opened. {viewer.canEdit ? "Add a recovery key below." : "Ask an admin to add a recovery key."}
        </p>
      )}
      {!data ? (
        error ? (
          <ErrorMessage error={error} />
        ) : (
          <Loading what="Loading encryption keys" />
        )
      ) : (
        <section className="table-wrap panel" aria-labelledby="encryption-keys-heading">
          <h2 id="encryption-keys-heading">Encryption keys</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Fingerprint</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
                <th scope="col">Backups</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.encryptionKeys.map((k) => (
                <tr key={k.id} data-testid={`encryption-key-${k.label}`}>
                  <td>
                    <strong>{k.label}</strong>
                    <div className="small muted">
                      {k.kind === "INSTANCE" ? `instance key${k.identityHeld ? ", held by SQLGuard" : ""}` : "recovery key, held by you"}
                    </div>
                  </td>
                  <td className="mono nowrap" title={k.recipient}>
                    {k.fingerprint}
                  </td>
                  <td>{formatDateTime(k.createdAt)}</td>
                  <td>{k.retiredAt ? `retired ${formatDateTime(k.retiredAt)}` : "active"}</td>
                  <td className="small">{dependents(k)}</td>
                  <td>
                    {viewer.canEdit && !k.retiredAt && (
                      <button type="button" className="danger" onClick={() => retire(k)} aria-label={`Retire key ${k.label}`}>
                        Retire
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {data && <RewrapSection currentKeys={data.encryptionKeys.filter((k) => !k.retiredAt).length} onFinished={refetch} />}
      {viewer.canEdit && <RecoveryKeyForm onAdded={added} />}
    </>
  );
}
