"use client";

import { useEffect, useState } from "react";
import { messageOf, request } from "@/lib/graphql";
import { formatBytes, formatMs, formatInstant } from "@/lib/format";
import type { RestoreStatus } from "@/lib/types";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { ErrorMessage } from "@/components/ui/states";
import { StatusBadge } from "@/components/ui/status";
import { CANCEL_RESTORE, RESTORE, type Restore } from "./queries";

const POLL_MS = 1_000;
/** A restore in one of these states still changes; the others are final. */
export const ACTIVE_RESTORE: RestoreStatus[] = ["PENDING", "RUNNING"];

/**
 * Follows one restore by polling `restore(id)` every second until it ends (restores have no live
 * event stream), then calls `onEnd` once. Shows status, progress, the target database and what
 * state the restore has left it in (saved before each risky step, so it is live too), and any error.
 */
export function RestoreStatusPanel({ initial, canCancel, onEnd }: { initial: Restore; canCancel: boolean; onEnd: (restore: Restore) => void }) {
  const [restore, setRestore] = useState(initial);
  const [failure, setFailure] = useState<unknown>();
  const [cancelling, setCancelling] = useState(false);
  const confirm = useConfirm();
  const active = ACTIVE_RESTORE.includes(restore.status);

  // biome-ignore lint/correctness/useExhaustiveDependencies: onEnd is called once, when the status turns final; it is not a reason to poll again.
  useEffect(() => {
    if (!active) {
      onEnd(restore);
      return;
    }
    const timer = setTimeout(() => {
      request(RESTORE, { id: restore.id }).then(
        (data) => {
          setFailure(undefined);
          setRestore(data.restore);
        },
        // Keep polling through a transient failure; the next answer clears the message.
        (error: unknown) => {
          setFailure(new Error(`Cannot read the restore's status: ${messageOf(error)}`));
          setRestore((r) => ({ ...r }));
        },
      );
    }, POLL_MS);
    return () => clearTimeout(timer);
    // onEnd is called once, when the status turns final; it is not a reason to poll again.
  }, [restore, active]);

  async function cancel() {
    const message = restore.overwrite
      ? "It stops where it is; the existing database stays as it was (a swap already under way is finished first)."
      : "It stops where it is; a database the restore created is dropped again.";
    if (!(await confirm({ title: `Cancel restore #${restore.id}?`, message, confirmLabel: "Cancel restore", cancelLabel: "Keep running" }))) return;
    setCancelling(true);
    try {
      setRestore((await request(CANCEL_RESTORE, { id: restore.id })).cancelRestore);
    } catch (error) {
      setFailure(new Error(messageOf(error)));
    } finally {
      setCancelling(false);
    }
  }

  return (
    // biome-ignore lint/a11y/useSemanticElements: a <fieldset> is for form controls; this is a status panel.
    <div
      className={restore.status === "SUCCEEDED" ? "ok-box" : restore.status === "FAILED" ? "error-box" : "panel"}
      aria-label={`Restore #${restore.id}`}
      role="group"
    >
      <p>
        Restore #{restore.id} into <strong className="mono">{restore.database}</strong> on {restore.serverName}
        {restore.overwrite ? " (replacing it)" : ""}
        {restore.restoreUser ? ` as ${restore.restoreUser}` : ""}
        {restore.rewriteDefiners ? ", definers rewritten" : ""}:{" "}
        <span aria-live="polite" data-testid="restore-status">
          <StatusBadge status={restore.status} />
        </span>
      </p>
      <p className="small">
        {active
          ? `Read ${formatBytes(restore.progressBytes)} of ${formatBytes(restore.totalBytes)}…`
          : `Finished ${formatInstant(restore.finishedAt)} after ${formatMs(restore.durationMs)}; ${formatBytes(restore.rawBytes)} restored.`}
      </p>
      {restore.targetState && (
        <p className="small" data-testid="restore-target">
          Target database: <StatusBadge status={restore.targetState} /> {restore.targetDetail}
        </p>
      )}
      {restore.error && <p className="error-cell">{restore.error}</p>}
      {restore.logTail && restore.status === "FAILED" && <pre className="log">{restore.logTail}</pre>}
      <ErrorMessage error={failure} />
      {active && canCancel && (
        <button type="button" className="danger" onClick={cancel} disabled={cancelling}>
          {cancelling ? "Cancelling…" : "Cancel restore"}
        </button>
      )}
    </div>
  );
}
