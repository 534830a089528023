"use client";

import { useState } from "react";
import { Empty, ErrorMessage } from "@/components/ui/states";
import { StatusBadge } from "@/components/ui/status";
import { formatInstant } from "@/lib/format";
import { messageOf, request } from "@/lib/graphql";
import type { ResultOf } from "@/lib/graphql-tada";
import { type NOTIFICATIONS, RETRY_DELIVERY } from "./queries";
import { eventLabel } from "./words";

type Data = ResultOf<typeof NOTIFICATIONS>;

/** The delivery log, newest first (the last 100 of the connection), with Retry on a failed delivery. */
export function DeliveryLog({ data, refetch }: { data: Data; refetch: () => void }) {
  const [retrying, setRetrying] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const [notice, setNotice] = useState<{ ok: boolean; text: string }>();
  const deliveries = data.notificationDeliveries.nodes;
  const total = data.notificationDeliveries.totalCount;

  async function retry(id: string) {
    setRetrying(id);
    setFailure(undefined);
    setNotice(undefined);
    try {
      const result = (await request(RETRY_DELIVERY, { id })).retryNotificationDelivery;
      setNotice({
        ok: result.ok,
        text: result.ok ? `Delivery ${id} sent again: delivered.` : `Delivery ${id} sent again: not delivered: ${result.error ?? "no answer"}.`,
      });
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    } finally {
      setRetrying(undefined);
      refetch();
    }
  }

  return (
    <section className="panel" aria-labelledby="deliveries-heading">
      <h2 id="deliveries-heading">
        Delivery log{" "}
        {total > deliveries.length && (
          <span className="muted small">
            (newest {deliveries.length} of {total})
          </span>
        )}
      </h2>
      <ErrorMessage error={failure} />
      {notice && (
        <p role="status" className={notice.ok ? "ok-box" : "error-box"} aria-label="Retry">
          {notice.text}
        </p>
      )}
      {deliveries.length === 0 ? (
        <Empty>Nothing sent yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Channel</th>
                <th scope="col">Event</th>
                <th scope="col">Server / database</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Error</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id} data-testid={`delivery-${d.id}`} data-channel={d.channel.name}>
                  <td className="small">
                    <time dateTime={d.createdAt}>{formatInstant(d.createdAt)}</time>
                  </td>
                  <td>{d.channel.name}</td>
                  <td title={d.summary}>{eventLabel(d.event)}</td>
                  <td className="small">{d.serverName ? `${d.serverName}${d.database ? ` / ${d.database}` : ""}` : "—"}</td>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <td>{d.attempts}</td>
                  <td className="small">{d.lastError ?? ""}</td>
                  <td>
                    {d.status === "FAILED" && d.event !== "WEEKLY_REPORT" && (
                      <button
                        type="button"
                        onClick={() => retry(d.id)}
                        disabled={retrying !== undefined}
                        aria-label={`Retry delivery ${d.id} to ${d.channel.name}`}
                      >
                        {retrying === d.id ? "Retrying…" : "Retry"}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
