"use client";

import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useRef, type FormEvent } from "react";
import { useQuery } from "@/lib/use-query";
import { formatBytes, formatDateTime, formatMs } from "@/lib/format";
import { BACKUP_STATUSES, type BackupOrder } from "@/lib/types";
import { distinctLabels, labelText, parseLabel } from "@/lib/server-labels";
import { backupStatusLabel, triggerLabel } from "@/lib/labels";
import { Empty, ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { StatusBadge } from "@/components/ui/status";
import { BACKUPS, FILTER_OPTIONS } from "./queries";
import { useBackupEvents } from "./use-backup-events";

const PAGE_SIZE = 25;
const FILTER_KEYS = ["server", "label", "database", "schedule", "status", "target", "from", "to"] as const;
/** `?order=oldest` sorts oldest first; newest first is the default and stays out of the URL. */
const ORDERS: Record<string, BackupOrder> = { "": "NEWEST_FIRST", oldest: "OLDEST_FIRST" };

/** The URL's query string as a BackupFilter; dates are whole local days (`to` inclusive). */
function filterOf(params: URLSearchParams): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  const num = (k: string) => (params.get(k) && /^\d+$/.test(params.get(k)!) ? Number(params.get(k)) : undefined);
  if (num("server") !== undefined) filter.serverId = num("server");
  if (num("schedule") !== undefined) filter.scheduleId = num("schedule");
  if (num("target") !== undefined) filter.storageTargetId = num("target");
  if (params.get("database")) filter.database = params.get("database");
  const label = parseLabel(params.get("label"));
  if (label) filter.serverLabels = [label];
  const status = params.getAll("status").filter((s) => (BACKUP_STATUSES as string[]).includes(s));
  if (status.length) filter.status = status;
  const from = params.get("from");
  const to = params.get("to");
  if (from && !Number.isNaN(Date.parse(`${from}T00:00`))) filter.from = new Date(`${from}T00:00`).toISOString();
  if (to && !Number.isNaN(Date.parse(`${to}T00:00`))) filter.to = new Date(new Date(`${to}T00:00`).getTime() + 86_400_000).toISOString();
  return filter;
}

/** Backup history: filters and sort order kept in the URL, cursor pages, live status. */
export function BackupsPage() {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const filter = filterOf(params);
  const after = params.get("after");
  const sort = params.get("order") ?? "";
  const order = ORDERS[sort] ?? "NEWEST_FIRST";
  const filtered = FILTER_KEYS.some((key) => params.has(key));
  const options = useQuery(FILTER_OPTIONS);
  const { data, error, loading, refetch } = useQuery(BACKUPS, { filter, after, first: PAGE_SIZE, order });
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const onEvent = useCallback(
    (e: { type: string }) => {
      if (e.type === "PROGRESS") return;
      clearTimeout(pending.current);
      pending.current = setTimeout(refetch, 300);
    },
    [refetch],
  );
  useBackupEvents(onEvent, { onOpen: refetch });

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const next = new URLSearchParams();
    for (const key of [...FILTER_KEYS, "order"]) {
      const value = String(f.get(key) ?? "").trim();
      if (value) next.set(key, value);
    }
    router.replace(next.size ? `${pathname}?${next}` : pathname);
  }

  function page(cursor: string | null) {
    const next = new URLSearchParams(params);
    if (cursor) next.set("after", cursor);
    else next.delete("after");
    router.push(next.size ? `${pathname}?${next}` : pathname);
  }

  const o = options.data;
  // Remount the form when the URL changes or the options arrive, so defaultValue picks the right option.
  const formKey = `${params.toString()}:${o ? "loaded" : "loading"}`;
  return (
    <>
      <PageHeader title="Backups">{loading && data && <span className="muted">Refreshing…</span>}</PageHeader>
      {/* biome-ignore lint/a11y/useSemanticElements: <search> is not yet supported by every browser the console targets. */}
      <form key={formKey} className="filters panel" onSubmit={apply} aria-label="Filter backups" role="search">
        <FilterSelect label="Server" name="server" any="Any server" params={params} options={o?.servers ?? []} />
        <FilterSelect
          label="Label"
          name="label"
          any="Any label"
          params={params}
          options={distinctLabels((o?.servers ?? []).map((s) => s.labels)).map((l) => ({ id: labelText(l), name: labelText(l) }))}
        />
        <label>
          Database
          <input name="database" defaultValue={params.get("database") ?? ""} placeholder="Exact name" />
        </label>
        <FilterSelect label="Schedule" name="schedule" any="Any schedule" params={params} options={o?.schedules ?? []} />
        <FilterSelect
          label="Status"
          name="status"
          any="Any status"
          params={params}
          options={BACKUP_STATUSES.map((s) => ({ id: s, name: backupStatusLabel(s) }))}
        />
        <FilterSelect label="Target" name="target" any="Any target" params={params} options={o?.storageTargets ?? []} />
        <label>
          From
          <input type="date" name="from" defaultValue={params.get("from") ?? ""} />
        </label>
        <label>
          To
          <input type="date" name="to" defaultValue={params.get("to") ?? ""} />
        </label>
        <label>
          Sort
          {/* Sorting applies at once (with the filters as typed); a cursor belongs to one order, so paging restarts. */}
          <select name="order" defaultValue={ORDERS[sort] ? sort : ""} onChange={(e) => e.currentTarget.form?.requestSubmit()}>
            <option value="">Newest first</option>
            <option value="oldest">Oldest first</option>
          </select>
        </label>
        <div className="form-actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <button type="button" onClick={() => router.replace(pathname)}>
            Clear
          </button>
        </div>
      </form>

      <ErrorMessage error={error} />
      {!data ? (
        !error && <Loading what="Loading backups" />
      ) : data.backups.nodes.length === 0 ? (
        <Empty>{filtered ? "No backup matches these filters." : "No backups yet. Run one from the Servers page or wait for a schedule."}</Empty>
      ) : (
        <section className="panel" aria-label="Backup history">
          <p className="muted small" role="status">
            {data.backups.totalCount} backup{data.backups.totalCount === 1 ? "" : "s"} match
          </p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Status</th>
                  <th scope="col">Server / database</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Created</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Size</th>
                </tr>
              </thead>
              <tbody>
                {data.backups.nodes.map((b) => (
                  <tr key={b.id} data-testid="backup-row">
                    <td>
                      <Link href={`/backups/detail/?id=${b.id}`} aria-label={`Backup ${b.id}: ${b.serverName} / ${b.database}`}>
                        {b.id}
                      </Link>
                    </td>
                    <td>
                      <StatusBadge status={b.status} />
                      {b.warnings.length > 0 && (
                        <span className="badge tone-warn warn-marker" title={b.warnings.join("\n")} data-testid="backup-warning-marker">
                          {b.warnings.length === 1 ? "1 warning" : `${b.warnings.length} warnings`}
                        </span>
                      )}
                    </td>
                    <td>
                      {b.serverName} / {b.database}
                      {b.error && <div className="error-cell">{b.error}</div>}
                    </td>
                    <td>{b.scheduleName ?? <span className="muted">{triggerLabel(b.trigger).toLowerCase()}</span>}</td>
                    <td>{formatDateTime(b.createdAt)}</td>
                    <td>{formatMs(b.durationMs)}</td>
                    <td>{formatBytes(b.storedBytes ?? b.progressBytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="form-actions" aria-label="Pages">
            {after && (
              <button type="button" onClick={() => page(null)}>
                First page
              </button>
            )}
            {data.backups.pageInfo.hasNextPage && (
              <button type="button" onClick={() => page(data.backups.pageInfo.endCursor)}>
                Next page
              </button>
            )}
          </nav>
        </section>
      )}
    </>
  );
}

/** One filter of the history: a select defaulting to the URL's value, with "any" first. */
function FilterSelect(props: {
  label: string;
  name: string;
  any: string;
  params: URLSearchParams;
  options: ReadonlyArray<{ id: number | string; name: string }>;
}) {
  return (
    <label>
      {props.label}
      <select name={props.name} defaultValue={props.params.get(props.name) ?? ""}>
        <option value="">{props.any}</option>
        {props.options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
    </label>
  );
}
