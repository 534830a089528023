/** Server labels in the console's filters: `key=value` in the URL and the select boxes. */
export type ServerLabel = { key: string; value: string };

/** `env=prod` for a label. */
export function labelText(label: ServerLabel): string {
  return `${label.key}=${label.value}`;
}

/** The label a `key=value` text names, or null when it is not one. */
export function parseLabel(text: string | null | undefined): ServerLabel | null {
  const at = text?.indexOf("=") ?? -1;
  if (!text || at < 1) return null;
  return { key: text.slice(0, at), value: text.slice(at + 1) };
}

/** Every distinct label of the given lists, sorted by key then value. */
export function distinctLabels(lists: ServerLabel[][]): ServerLabel[] {
  const seen = new Map<string, ServerLabel>();
  for (const list of lists) for (const label of list) seen.set(labelText(label), label);
  return [...seen.values()].sort((a, b) => a.key.localeCompare(b.key) || a.value.localeCompare(b.value));
}

/** Whether a server's labels include this one. */
export function carries(labels: ServerLabel[], wanted: ServerLabel): boolean {
  return labels.some((l) => l.key === wanted.key && l.value === wanted.value);
}
