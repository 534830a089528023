"use client";

import { Fragment, useState } from "react";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { Empty, ErrorMessage } from "@/components/ui/states";
import { messageOf, request } from "@/lib/graphql";
import type { ResultOf } from "@/lib/graphql-tada";
import { DELETE_RULE, type NOTIFICATIONS } from "./queries";
import { type Rule, RuleForm } from "./rule-form";
import { eventLabel } from "./words";

type Data = ResultOf<typeof NOTIFICATIONS>;

/** A rule's server selector in words. */
function serversOf(rule: Rule): string {
  const { names, matchLabels } = rule.serverSelector;
  if (matchLabels.length) return `labelled ${matchLabels.map((l) => `${l.key}=${l.value}`).join(", ")}`;
  if (names.length) return names.join(", ");
  return "every server";
}

/** The rules table (edit, delete) and the form that adds rules. */
export function RulesSection({ data, refetch }: { data: Data; refetch: () => void }) {
  const confirm = useConfirm();
  const [editing, setEditing] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const [formKey, setFormKey] = useState(0);
  const channelName = new Map(data.notificationChannels.map((c) => [c.id, c.name]));
  const scheduleName = new Map(data.schedules.map((s) => [s.id, s.name]));

  async function remove(rule: Rule) {
    const name = channelName.get(rule.channelId);
    if (!(await confirm({ title: `Delete this rule of ${name}?`, message: "Its events no longer reach the channel.", confirmLabel: "Delete rule" }))) return;
    try {
      await request(DELETE_RULE, { id: rule.id });
      setNotice(`Deleted a rule of ${name}.`);
      refetch();
    } catch (e) {
      setFailure(new Error(messageOf(e)));
    }
  }

  return (
    <section className="panel" aria-labelledby="rules-heading">
      <h2 id="rules-heading">Rules</h2>
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={failure} />
      {data.notificationRules.length === 0 ? (
        <Empty>No rules: channels receive only tests and the weekly report.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Events</th>
                <th scope="col">Servers</th>
                <th scope="col">Schedules</th>
                <th scope="col">Quiet</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.notificationRules.map((r) => (
                <Fragment key={r.id}>
                  <tr data-testid={`rule-${r.id}`}>
                    <td>
                      {channelName.get(r.channelId)}
                      {!r.enabled && <span className="muted small"> (disabled)</span>}
                    </td>
                    <td className="small">{r.events.length ? r.events.map(eventLabel).join(", ") : "pings only"}</td>
                    <td className="small">{serversOf(r)}</td>
                    <td className="small">{r.scheduleIds.length ? r.scheduleIds.map((id) => scheduleName.get(id) ?? `#${id}`).join(", ") : "every backup"}</td>
                    <td>{r.quietMinutes ? `${r.quietMinutes} min` : "off"}</td>
                    <td>
                      <div className="row-actions">
                        <button type="button" onClick={() => setEditing(editing === r.id ? undefined : r.id)} aria-label={`Edit rule ${r.id}`}>
                          Edit
                        </button>
                        <button type="button" className="danger" onClick={() => remove(r)} aria-label={`Delete rule ${r.id}`}>
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                  {editing === r.id && (
                    <tr>
                      <td colSpan={6}>
                        <RuleForm
                          data={data}
                          rule={r}
                          onSaved={() => {
                            setEditing(undefined);
                            setNotice("Saved the rule.");
                            refetch();
                          }}
                          onCancel={() => setEditing(undefined)}
                        />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <section aria-labelledby="add-rule-heading">
        <h3 id="add-rule-heading">Add a rule</h3>
        {data.notificationChannels.length === 0 ? (
          <p className="muted">Add a channel first.</p>
        ) : (
          <RuleForm
            key={formKey}
            data={data}
            onSaved={(count) => {
              setFormKey((k) => k + 1);
              setNotice(count === 1 ? "Added a rule." : `Added ${count} rules.`);
              refetch();
            }}
          />
        )}
      </section>
    </section>
  );
}
