"use client";

import { useState, type ChangeEvent } from "react";
import { GraphQLRequestError, messageOf, request, type FieldProblem } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { CheckField, TextAreaField } from "@/components/ui/field";
import { useConfirm } from "@/components/ui/confirm-dialog";
import { ErrorMessage, Loading } from "@/components/ui/states";
import { ConfigurationPlanView, type ConfigurationPlan } from "./configuration-plan";
import { APPLY_CONFIGURATION, EXPORT_CONFIGURATION, PLAN_CONFIGURATION } from "./queries";

/** Offers text as a file download (the browser's save dialog or downloads folder). */
function download(text: string, name: string) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/yaml" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * Settings → Configuration (admins; the API is admin-only): the installation as sqlguard.yaml to
 * read and download, and a document to paste or upload, plan (field by field) and apply.
 */
export function ConfigurationPanel() {
  const confirm = useConfirm();
  const current = useQuery(EXPORT_CONFIGURATION);
  const [document, setDocument] = useState("");
  const [prune, setPrune] = useState(false);
  const [plan, setPlan] = useState<ConfigurationPlan>();
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  function edited(text: string) {
    setDocument(text);
    setPlan(undefined);
    setProblems([]);
  }

  async function upload(event: ChangeEvent<HTMLInputElement>) {
    const file = event.currentTarget.files?.[0];
    if (file) edited(await file.text());
  }

  /** Shows a refused document's problems, each with its path; anything else as one message. */
  function refused(error: unknown) {
    if (error instanceof GraphQLRequestError && error.fields.length) {
      setProblems(error.fields);
      setFailure(undefined);
    } else {
      setProblems([]);
      setFailure(new Error(messageOf(error)));
    }
  }

  async function planIt(): Promise<ConfigurationPlan | undefined> {
    setBusy(true);
    setFailure(undefined);
    setProblems([]);
    setPlan(undefined);
    try {
      const { planConfiguration } = await request(PLAN_CONFIGURATION, { document, prune });
      setPlan(planConfiguration);
      return planConfiguration;
    } catch (e) {
      refused(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }

  async function apply() {
    const planned = await planIt();
    if (!planned) return;
    if (
      !planned.empty &&
      !(await confirm({
        title: "Apply this configuration?",
        message: `${planned.summary}${prune ? " Prune deletes what the document does not name." : ""} All changes are written in one transaction.`,
        confirmLabel: "Apply",
      }))
    )
      return;
    setBusy(true);
    try {
      const { applyConfiguration } = await request(APPLY_CONFIGURATION, { document, prune });
      setPlan(applyConfiguration);
      current.refetch();
    } catch (e) {
      refused(e);
    } finally {
      setBusy(false);
    }
  }

  const exported = current.data?.exportConfiguration;
  return (
    <>
      <section className="panel" aria-labelledby="config-current-heading">
        <h2 id="config-current-heading">Current configuration</h2>
        <p className="muted small">
          The installation as a <code>sqlguard.yaml</code> document. Secrets are never exported: they appear as <code>$&#123;env:…&#125;</code> placeholders,
          resolved by the server a document is applied to.
        </p>
        {exported == null ? (
          current.error ? (
            <ErrorMessage error={current.error} />
          ) : (
            <Loading what="Exporting the configuration" />
          )
        ) : (
          <>
            {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
            <section className="code-view" tabIndex={0} aria-label="Current configuration (sqlguard.yaml)">
              <pre data-testid="config-export">{exported}</pre>
            </section>
            <div className="form-actions">
              <button type="button" className="primary" onClick={() => download(exported, "sqlguard.yaml")}>
                Download sqlguard.yaml
              </button>
              <button type="button" onClick={() => edited(exported)}>
                Edit a copy below
              </button>
            </div>
          </>
        )}
      </section>

      <section className="panel" aria-labelledby="config-apply-heading">
        <h2 id="config-apply-heading">Plan and apply a document</h2>
        <TextAreaField
          label="Document (YAML)"
          name="document"
          className="mono"
          rows={16}
          spellCheck={false}
          value={document}
          onChange={(e) => edited(e.currentTarget.value)}
          hint="Paste a sqlguard.yaml document, or upload one."
        />
        <div className="field">
          <label htmlFor="config-upload">Upload a file</label>
          <input id="config-upload" type="file" accept=".yaml,.yml,application/yaml,text/yaml,text/plain" onChange={(e) => void upload(e)} />
        </div>
        <CheckField
          label="Prune"
          checked={prune}
          onChange={(e) => {
            setPrune(e.currentTarget.checked);
            setPlan(undefined);
          }}
          hint="Also delete the objects the document does not name. A storage target that still holds backup artifacts is never deleted."
        />
        <div className="form-actions">
          <button type="button" disabled={busy || !document.trim()} onClick={() => void planIt()}>
            Plan
          </button>
          <button type="button" className="primary" disabled={busy || !document.trim()} onClick={() => void apply()}>
            Apply
          </button>
        </div>
        <ErrorMessage error={failure} />
        {problems.length > 0 && (
          <div role="alert" className="error-box" data-testid="config-problems">
            <p>
              The document was refused, nothing changed ({problems.length} {problems.length === 1 ? "problem" : "problems"}):
            </p>
            <ul>
              {problems.map((p) => (
                <li key={`${p.field}: ${p.problem}`} data-testid="config-problem">
                  <code>{p.field}</code>: {p.problem}
                </li>
              ))}
            </ul>
          </div>
        )}
        {plan && <ConfigurationPlanView plan={plan} />}
      </section>
    </>
  );
}
