import YAML from "yaml";
import {
  API_VERSION,
  dumpOptionsDoc,
  KEY_OF,
  KIND,
  SECRET_FIELDS,
  SECTIONS,
  scheduleDoc,
  serverDoc,
  storageTargetDoc,
  recoveryRecipientDoc,
  userDoc,
  webhookDoc,
  type Section,
} from "./document.ts";
import { placeholderFor } from "./secrets.ts";
import type { CanonObject, CanonState } from "./state.ts";

const FIELD_ORDER: Record<Section, string[]> = {
  dumpOptions: Object.keys(dumpOptionsDoc.shape),
  storageTargets: Object.keys(storageTargetDoc.shape),
  servers: Object.keys(serverDoc.shape),
  schedules: Object.keys(scheduleDoc.shape),
  webhooks: Object.keys(webhookDoc.shape),
  users: Object.keys(userDoc.shape),
  recoveryRecipients: Object.keys(recoveryRecipientDoc.shape),
};

const isEmpty = (v: unknown): boolean =>
  v == null || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0);

/** Drops nulls and empty lists/maps (the document's defaults), recursively. */
function compact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(compact);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const c = compact(v);
      if (!isEmpty(c)) out[k] = c;
    }
    return out;
  }
  return value;
}

/** One object as the document writes it: secrets as `${env:…}` placeholders, the server selector in its short forms. */
function documentObject(section: Section, o: CanonObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of FIELD_ORDER[section]) {
    let v = o[field];
    if (SECRET_FIELDS[section].includes(field)) v = v == null ? null : placeholderFor(section, String(o[KEY_OF[section]]));
    if (section === "schedules" && field === "servers" && v) {
      const sel = v as { names: string[]; matchLabels: Record<string, string> | null };
      v = !sel.matchLabels ? sel.names : sel.names.length ? { matchLabels: sel.matchLabels, names: sel.names } : { matchLabels: sel.matchLabels };
    }
    if (section === "schedules" && field === "retention" && v) {
      // keepForever: false is the default; limits left unset are not written.
      v = Object.fromEntries(Object.entries(v as Record<string, CanonObject>).map(([t, r]) => [t, { ...r, keepForever: r.keepForever || null }]));
    }
    if (section === "schedules" && field === "drill" && v) {
      const d = v as CanonObject;
      v = { server: d.server, cron: d.cron, enabled: d.enabled ? null : false, pitr: d.pitr ? true : null };
    }
    out[field] = v;
  }
  return compact(out) as Record<string, unknown>;
}

/** The state as a `sqlguard.yaml` document: sections in a fixed order, objects by name, no secrets. */
export function exportDocument(state: CanonState): string {
  const doc: Record<string, unknown> = { apiVersion: API_VERSION, kind: KIND };
  for (const section of SECTIONS) {
    const objects = [...state[section].entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => documentObject(section, o));
    if (objects.length) doc[section] = objects;
  }
  const body = YAML.stringify(doc, { lineWidth: 0, sortMapEntries: false });
  return `# Exported by SQLGuard. Secrets are \${env:NAME} placeholders, resolved where the document is applied.\n${body}`;
}
