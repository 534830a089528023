"use client";

import { useState } from "react";
import { TextField } from "@/components/ui/field";

/**
 * A write-only secret (URL with a token, password, bot token, HMAC key). When one is stored, it shows
 * "set" and a Change button; only then does an input appear, so an untouched secret is left out of
 * the form data and stays as it is. The stored value is never shown (the API does not return it).
 */
export function SecretField({
  label,
  name,
  isSet,
  shown,
  type = "password",
  error,
  hint,
  changeHint = "Leave empty to remove it.",
}: {
  label: string;
  name: string;
  isSet: boolean;
  /** What may be shown of a stored value (a URL's host). */
  shown?: string | null;
  type?: "password" | "url";
  error?: string;
  hint?: string;
  changeHint?: string;
}) {
  const [changing, setChanging] = useState(!isSet);
  if (changing)
    return (
      <TextField
        label={label}
        name={name}
        type={type}
        autoComplete={type === "password" ? "new-password" : "off"}
        error={error}
        hint={isSet ? changeHint : hint}
        autoFocus={isSet}
      />
    );
  return (
    <fieldset className="field unstyled secret">
      <legend>{label}</legend>
      <p className="secret-set" data-testid={`secret-${name}`}>
        set{shown ? ` (${shown})` : ""}{" "}
        <button type="button" onClick={() => setChanging(true)} aria-label={`Change ${label}`}>
          Change
        </button>
      </p>
      {error && <p className="field-error">{error}</p>}
    </fieldset>
  );
}
