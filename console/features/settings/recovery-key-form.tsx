"use client";

import { useState, type FormEvent } from "react";
import { fieldErrorsOf, messageOf, request } from "@/lib/graphql";
import { generateAgeKey, identityFile, identityFileName, type BrowserAgeKey } from "@/lib/age-keygen";
import { TextField } from "@/components/ui/field";
import { ErrorMessage } from "@/components/ui/states";
import { ADD_RECOVERY_RECIPIENT, type EncryptionKey } from "./queries";

type Mode = "paste" | "generate";

/** Offers `text` as a downloaded file (a Blob URL, revoked once the click has started the download). */
function download(fileName: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Adds a recovery recipient (admins): paste an `age1…` public key made with age-keygen, or generate
 * the pair in the browser. A generated pair can only be added once its private half (the identity
 * file) has been downloaded: SQLGuard never sees or stores it. Calls `onAdded` with the new key.
 */
export function RecoveryKeyForm({ onAdded }: { onAdded: (key: EncryptionKey) => void }) {
  const [mode, setMode] = useState<Mode>("paste");
  const [label, setLabel] = useState("");
  const [pasted, setPasted] = useState("");
  const [generated, setGenerated] = useState<BrowserAgeKey>();
  const [downloadedAs, setDownloadedAs] = useState<string>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>();
  const [saving, setSaving] = useState(false);

  function reset() {
    setLabel("");
    setPasted("");
    setGenerated(undefined);
    setDownloadedAs(undefined);
    setErrors({});
  }

  async function generate() {
    setFailure(undefined);
    setDownloadedAs(undefined);
    try {
      setGenerated(await generateAgeKey());
    } catch (e) {
      setFailure(e);
    }
  }

  function downloadIdentity() {
    if (!generated) return;
    if (!label.trim()) {
      setErrors({ label: "Enter a label first: it names the key and the file." });
      return;
    }
    setErrors({});
    const fileName = identityFileName(label);
    download(fileName, identityFile(generated));
    setDownloadedAs(fileName);
  }

  async function add(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const recipient = mode === "generate" ? (generated?.recipient ?? "") : pasted.trim();
    const problems: Record<string, string> = {};
    if (!label.trim()) problems.label = "Enter a label, e.g. where the private half is kept.";
    if (mode === "paste" && !recipient) problems.recipient = "Paste the public key (age1…).";
    setErrors(problems);
    setFailure(mode === "generate" && !downloadedAs ? new Error("Download the private key first: SQLGuard never stores it.") : undefined);
    if (Object.keys(problems).length || (mode === "generate" && !downloadedAs)) return;
    setSaving(true);
    try {
      const { addRecoveryRecipient } = await request(ADD_RECOVERY_RECIPIENT, { input: { label: label.trim(), recipient } });
      reset();
      onAdded(addRecoveryRecipient);
    } catch (e) {
      const fields = fieldErrorsOf(e);
      setErrors(fields);
      // A generated key has no recipient field to mark: its problem goes to the message box.
      const atField = mode === "paste" ? Object.keys(fields).length : fields.label ? 1 : 0;
      setFailure(atField ? new Error(`Check the highlighted fields: ${messageOf(e)}`) : e);
    } finally {
      setSaving(false);
    }
  }

  const blocked = saving || (mode === "generate" && (!generated || !downloadedAs));
  return (
    <section className="panel" aria-labelledby="add-recovery-heading">
      <h2 id="add-recovery-heading">Add a recovery key</h2>
      <p className="hint">
        Every new encrypted backup is also written to a recovery key. Its private half stays with you, off this server: with it, <code>age -d -i key.txt</code>{" "}
        opens a backup even when SQLGuard and its metadata are gone.
      </p>
      <form className="edit-form" onSubmit={add} noValidate aria-busy={saving}>
        <TextField
          label="Label"
          name="label"
          value={label}
          onChange={(e) => setLabel(e.target.value)}
          autoComplete="off"
          error={errors.label}
          hint="Where the private half is kept, e.g. “safe in office B”."
        />
        <fieldset className="wide choice-row">
          <legend>How</legend>
          <label className="check-option">
            <input type="radio" name="mode" value="paste" checked={mode === "paste"} onChange={() => setMode("paste")} />
            Paste a public key made with age-keygen
          </label>
          <label className="check-option">
            <input type="radio" name="mode" value="generate" checked={mode === "generate"} onChange={() => setMode("generate")} />
            Generate in the browser
          </label>
        </fieldset>
        {mode === "paste" ? (
          <div className="wide">
            <TextField
              label="Public key"
              name="recipient"
              value={pasted}
              onChange={(e) => setPasted(e.target.value)}
              placeholder="age1…"
              autoComplete="off"
              spellCheck={false}
              className="mono"
              error={errors.recipient}
              hint={
                <>
                  The <code>public key: age1…</code> line that <code>age-keygen -o recovery.txt</code> prints.
                </>
              }
            />
          </div>
        ) : (
          <GeneratedKey generated={generated} downloadedAs={downloadedAs} onGenerate={generate} onDownload={downloadIdentity} />
        )}
        <div className="wide">
          <ErrorMessage error={failure} />
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={blocked} aria-describedby={mode === "generate" && !downloadedAs ? "download-first" : undefined}>
            {saving ? "Adding…" : "Add recovery key"}
          </button>
        </div>
      </form>
    </section>
  );
}

/** The browser-generated pair: its public half, the warning, and the download of the private half. */
function GeneratedKey({
  generated,
  downloadedAs,
  onGenerate,
  onDownload,
}: {
  generated?: BrowserAgeKey;
  downloadedAs?: string;
  onGenerate: () => void;
  onDownload: () => void;
}) {
  if (!generated)
    return (
      <div className="wide">
        <button type="button" onClick={onGenerate}>
          Generate key pair
        </button>
        <p id="download-first" className="hint">
          The key pair is made here, in this browser; only its public half is sent to SQLGuard.
        </p>
      </div>
    );
  return (
    <div className="wide">
      <p>
        Public key (recipient):{" "}
        <code className="token" data-testid="generated-recipient">
          {generated.recipient}
        </code>
      </p>
      <div className="panel warn-box" role="note" aria-label="Keep the private key">
        <p className="warn-text">SQLGuard never stores the private half of this key.</p>
        <p>
          Download it and keep it safe, away from this server. Without the file this recovery key opens no backup; with it, anyone can open every backup
          encrypted to it.
        </p>
        <div className="form-actions">
          <button type="button" onClick={onDownload}>
            Download private key
          </button>
          <button type="button" onClick={onGenerate}>
            Generate another
          </button>
        </div>
        <p id="download-first" className="hint" role="status">
          {downloadedAs ? `Downloaded ${downloadedAs}. Keep it safe, then add the key.` : "Download the private key to add this key."}
        </p>
      </div>
    </div>
  );
}
