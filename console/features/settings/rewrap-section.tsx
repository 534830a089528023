"use client";

import { useEffect, useRef, useState } from "react";
import { messageOf, request } from "@/lib/graphql";
import { formatDateTime } from "@/lib/format";
import { useQuery } from "@/lib/use-query";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { ErrorMessage } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { ENCRYPTION_REWRAPS, REWRAP_BACKUPS } from "./queries";

const POLL_MS = 1_000;
const STALLED_MS = 60_000;

/**
 * "Rewrap backups": rewrites the age header of every stored encrypted copy to the current keys, so
 * retired keys stop opening them. Shows the latest job with its progress (polled while it runs);
 * admins start (or resume) one. `onFinished` runs when a job ends, since the keys' counts change.
 */
export function RewrapSection({ currentKeys, onFinished }: { currentKeys: number; onFinished: () => void }) {
  const viewer = useViewer();
  const confirm = useConfirm();
  const { data, error, refetch } = useQuery(ENCRYPTION_REWRAPS);
  const [failure, setFailure] = useState<unknown>();
  const job = data?.encryptionRewraps.nodes[0];
  const running = job?.status === "RUNNING";
  // A job whose heartbeat stopped was interrupted (its instance went away): starting again resumes it.
  const stalled = running && Date.now() - new Date(job.heartbeatAt).getTime() > STALLED_MS;
  const wasRunning = useRef(false);

  useEffect(() => {
    if (!running) return;
    const timer = setInterval(refetch, POLL_MS);
    return () => clearInterval(timer);
  }, [running, refetch]);

  useEffect(() => {
    if (wasRunning.current && !running) onFinished();
    wasRunning.current = running;
  }, [running, onFinished]);

  async function start() {
    const question = {
      title: "Rewrap every encrypted backup?",
      message: `Each stored copy's header is rewritten to the ${currentKeys} current ${currentKeys === 1 ? "key" : "keys"}: retired keys no longer open them. The data itself is unchanged; each copy's new SHA-256 is recorded.`,
      confirmLabel: "Rewrap backups",
      danger: false,
    };
    if (!(await confirm(question))) return;
    setFailure(undefined);
    try {
      await request(REWRAP_BACKUPS);
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  return (
    <section className="panel" aria-labelledby="rewrap-heading">
      <div className="page-header">
        <h2 id="rewrap-heading">Rewrap backups</h2>
        {viewer.canEdit && (
          <div className="actions">
            <button type="button" onClick={start}>
              {stalled ? "Resume rewrap" : "Rewrap backups"}
            </button>
          </div>
        )}
      </div>
      <p className="hint">
        Adding or retiring a key applies to new backups at once. Rewrapping also moves existing encrypted backups to the current keys, so a retired key stops
        opening them; until then, keep its private half.
      </p>
      <ErrorMessage error={failure ?? error} />
      {job && (
        <div data-testid="rewrap-job" role="status">
          <p>
            Rewrap #{job.id} by {job.requestedBy}, started {formatDateTime(job.startedAt)}: <strong>{job.status}</strong>
            {job.finishedAt ? `, finished ${formatDateTime(job.finishedAt)}` : ""}
            {stalled ? ` (no progress since ${formatDateTime(job.heartbeatAt)}: interrupted; “Resume rewrap” continues it)` : ""}.
          </p>
          <progress max={Math.max(job.total, 1)} value={job.total ? job.done + job.failed : running ? 0 : 1} aria-label="Rewrap progress" />
          <p className="small">
            {job.done} of {job.total} stored {job.total === 1 ? "copy" : "copies"} rewrapped{job.failed ? `, ${job.failed} left as they were` : ""}.
          </p>
          {job.error && <pre className="error-cell">{job.error}</pre>}
        </div>
      )}
    </section>
  );
}
