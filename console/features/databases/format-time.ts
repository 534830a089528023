// Times on the per-database pages: to the second, with the time zone, as detail pages should show them.

/** "Dec 3, 2026, 12:51:08 PM UTC" in the browser's locale and zone; null → "—". */
export function formatInstant(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" }).format(new Date(iso));
}
