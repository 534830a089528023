"use client";

import { Fragment, useState } from "react";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { Empty, ErrorMessage } from "@/components/ui/states";
import { StatusBadge } from "@/components/ui/status";
import { messageOf, request } from "@/lib/graphql";
import type { ResultOf } from "@/lib/graphql-tada";
import { useRowTests } from "@/lib/use-row-tests";
import { type Channel, ChannelForm } from "./channel-form";
import { DELETE_CHANNEL, type NOTIFICATIONS, SEND_WEEKLY_REPORT, TEST_CHANNEL } from "./queries";
import { kindLabel } from "./words";

type Data = ResultOf<typeof NOTIFICATIONS>;

/** Where a channel sends, without anything secret: a URL's host, the SMTP server and recipients, the chat. */
export function destinationOf(c: Channel): string {
  if (c.kind === "EMAIL" && c.smtp) return `${c.smtp.to.join(", ")} via ${c.smtp.host}:${c.smtp.port}`;
  if (c.kind === "TELEGRAM" && c.telegram) return `chat ${c.telegram.chatId}${c.urlHost ? ` via ${c.urlHost}` : ""}`;
  return c.urlHost ?? "—";
}

/** The channels table (send test, weekly report, edit, delete) and the form that adds one. */
export function ChannelsSection({ data, refetch }: { data: Data; refetch: () => void }) {
  const confirm = useConfirm();
  const [editing, setEditing] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const [formKey, setFormKey] = useState(0);
  // Which of a row's two sends (test, weekly report) it shows the outcome of: the last one clicked.
  const [shown, setShown] = useState<Record<string, "test" | "report">>({});
  const { tests, run } = useRowTests(async (id) => {
    const result = (await request(TEST_CHANNEL, { id })).testNotificationChannel;
    refetch();
    return { ...result, what: "Test" };
  });
  const { tests: reports, run: runReport } = useRowTests(async (id) => {
    const result = (await request(SEND_WEEKLY_REPORT, { channelId: String(id) })).sendWeeklyReport;
    refetch();
    return { ...result, what: "Weekly report" };
  });
  // The log is newest first: the first entry of a channel is its last delivery.
  const last = new Map<string, string>();
  for (const d of data.notificationDeliveries.nodes) if (!last.has(d.channelId)) last.set(d.channelId, d.status);

  async function remove(c: Channel) {
    const rules = data.notificationRules.filter((r) => r.channelId === c.id).length;
    const ok = await confirm({
      title: `Delete channel ${c.name}?`,
      message: `Its ${rules} rule(s) and its delivery log go with it.`,
      confirmLabel: "Delete channel",
    });
    if (!ok) return;
    try {
      await request(DELETE_CHANNEL, { id: c.id });
      setNotice(`Deleted channel ${c.name}.`);
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  return (
    <section className="panel" aria-labelledby="channels-heading">
      <h2 id="channels-heading">Channels</h2>
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={failure} />
      {data.notificationChannels.length === 0 ? (
        <Empty>No channels: nobody is notified of failures yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Destination</th>
                <th scope="col">Last delivery</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.notificationChannels.map((c) => {
                const result = shown[c.id] === "report" ? reports[c.id] : tests[c.id];
                const busy = tests[c.id] === "testing" || reports[c.id] === "testing";
                return (
                  <Fragment key={c.id}>
                    <tr data-testid={`channel-${c.name}`}>
                      <td>
                        {c.name}
                        {!c.enabled && <span className="muted small"> (disabled)</span>}
                      </td>
                      <td>
                        {kindLabel(c.kind)}
                        {c.weeklyReport && <span className="muted small"> · weekly report</span>}
                      </td>
                      <td className="mono small">{destinationOf(c)}</td>
                      <td>{last.has(c.id) ? <StatusBadge status={last.get(c.id)!} /> : <span className="muted">none yet</span>}</td>
                      <td>
                        <div className="row-actions">
                          <button
                            type="button"
                            onClick={() => {
                              setShown((s) => ({ ...s, [c.id]: "test" }));
                              void run(c.id);
                            }}
                            aria-label={`Send a test to ${c.name}`}
                            disabled={busy}
                          >
                            {tests[c.id] === "testing" ? "Sending…" : "Send test"}
                          </button>
                          {c.kind === "EMAIL" && (
                            <button
                              type="button"
                              onClick={() => {
                                setShown((s) => ({ ...s, [c.id]: "report" }));
                                void runReport(c.id);
                              }}
                              aria-label={`Send the weekly report to ${c.name}`}
                              disabled={busy}
                            >
                              {reports[c.id] === "testing" ? "Sending…" : "Send report"}
                            </button>
                          )}
                          <button type="button" onClick={() => setEditing(editing === c.id ? undefined : c.id)} aria-label={`Edit channel ${c.name}`}>
                            Edit
                          </button>
                          <button type="button" className="danger" onClick={() => remove(c)} aria-label={`Delete channel ${c.name}`}>
                            Delete
                          </button>
                        </div>
                      </td>
                    </tr>
                    {result && result !== "testing" && (
                      <tr>
                        <td colSpan={5}>
                          {result instanceof Error ? (
                            <ErrorMessage error={result} />
                          ) : (
                            <p role="status" className={result.ok ? "ok-box" : "error-box"} aria-label={`Test of ${c.name}`}>
                              {result.what}: {result.ok ? "delivered" : "not delivered"}
                              {result.status !== null ? ` (HTTP ${result.status})` : ""}
                              {result.error ? `: ${result.error}` : "."}
                            </p>
                          )}
                        </td>
                      </tr>
                    )}
                    {editing === c.id && (
                      <tr>
                        <td colSpan={5}>
                          <ChannelForm
                            channel={c}
                            onSaved={(name) => {
                              setEditing(undefined);
                              setNotice(`Saved channel ${name}.`);
                              refetch();
                            }}
                            onCancel={() => setEditing(undefined)}
                          />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <section aria-labelledby="add-channel-heading">
        <h3 id="add-channel-heading">Add a channel</h3>
        <ChannelForm
          key={formKey}
          onSaved={(name) => {
            setFormKey((k) => k + 1);
            setNotice(`Added channel ${name}.`);
            refetch();
          }}
        />
      </section>
    </section>
  );
}
