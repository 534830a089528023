import { formatInstant } from "@/lib/format";

/** What Server.pitr says about one database (or a whole server). */
export type PitrWindowData = {
  enabled: boolean;
  lagSeconds: number | null;
  recoverableFrom: string | null;
  recoverableTo: string | null;
  broken: boolean;
  brokenReason: string | null;
  /** PostgreSQL: the replication slot's wal_status is not `reserved`. */
  warning?: string | null;
} | null;

/** The recoverable window of point-in-time recovery, or why there is none. */
export function PitrWindow({ pitr }: { pitr: PitrWindowData }) {
  if (!pitr?.enabled) return <span className="muted">Off: turn on point-in-time recovery in the server's settings to restore to any second.</span>;
  return (
    <>
      {pitr.recoverableFrom && pitr.recoverableTo ? (
        <>
          Any second from {formatInstant(pitr.recoverableFrom)} to {formatInstant(pitr.recoverableTo)}
          {pitr.lagSeconds !== null && <span className="muted"> · archive lag {pitr.lagSeconds} s</span>}
        </>
      ) : (
        <span className="muted">No window yet: it opens with the first dump (PostgreSQL: base backup) after archiving started.</span>
      )}
      {pitr.broken && (
        <div className="error small" role="alert">
          Chain broken: {pitr.brokenReason}
        </div>
      )}
      {pitr.warning && !pitr.broken && <div className="small">Warning: {pitr.warning}</div>}
    </>
  );
}
