/**
 * Database include/exclude patterns: `*` any run of characters, `?` one character, `[abc]` /
 * `[a-z]` / `[!abc]` a set. Matching is case-sensitive, as database names are on Linux.
 */

/** Returns why a pattern is unusable, or null when it is fine. */
export function globProblem(pattern: string): string | null {
  if (pattern.length === 0) return "must not be empty";
  if (pattern.length > 255) return "must be at most 255 characters";
  if (pattern !== pattern.trim()) return "must not start or end with spaces";
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return "must not contain control characters";
  let inSet = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "[" && !inSet) {
      inSet = true;
      if (pattern[i + 1] === "!") i++;
      if (pattern[i + 1] === "]") return `empty character set at position ${i + 1}`;
    } else if (c === "]" && inSet) inSet = false;
  }
  if (inSet) return "has a '[' without its closing ']'";
  return null;
}

/** Compiles a valid pattern to an anchored RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      out += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^${out}$`, "su");
}

/**
 * Applies include then exclude patterns to database names: no include patterns means all.
 * Keeps the input order.
 */
export function selectDatabases(names: string[], include: string[], exclude: string[]): string[] {
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  return names.filter((n) => (inc.length === 0 || inc.some((r) => r.test(n))) && !exc.some((r) => r.test(n)));
}
