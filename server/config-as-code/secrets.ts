import fs from "node:fs/promises";
import path from "node:path";
import type { Section } from "./document.ts";

/**
 * Secrets in a document: `${env:NAME}` (a variable of the process applying it) or
 * `${file:/path}` (a file's content, trailing newline dropped, as Kubernetes secrets are mounted).
 * Export never writes a secret: it writes the `${env:…}` placeholder named by `placeholderName`.
 */

const PLACEHOLDER = /^\$\{(env|file):([^}]*)\}$/;
const MAX_FILE_BYTES = 64 * 1024;

/** Where secrets come from: the environment of the applying process (main.ts passes process.env). */
export type SecretSource = { env: Record<string, string | undefined> };

export type ResolvedSecret = { value: string; inline: boolean };

/** Resolves one secret value: the placeholder's content, or the inline value. Throws Error with the reason. */
export async function resolveSecret(raw: string, source: SecretSource): Promise<ResolvedSecret> {
  const match = PLACEHOLDER.exec(raw.trim());
  if (!match) {
    if (raw.includes(`\${`)) throw new Error(`is neither \${env:NAME} nor \${file:/absolute/path}`);
    return { value: raw, inline: true };
  }
  const [, kind, ref] = match as unknown as [string, "env" | "file", string];
  if (kind === "env") {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref)) throw new Error(`\${env:${ref}}: not a variable name`);
    const value = source.env[ref];
    if (value === undefined || value === "") throw new Error(`\${env:${ref}}: the variable ${ref} is not set where the document is applied`);
    return { value, inline: false };
  }
  if (!path.isAbsolute(ref)) throw new Error(`\${file:${ref}}: the path must be absolute`);
  let content: Buffer;
  try {
    const stat = await fs.stat(ref);
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    content = await fs.readFile(ref);
  } catch (error) {
    throw new Error(`\${file:${ref}}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const value = content.toString("utf8").replace(/\r?\n$/, "");
  if (!value) throw new Error(`\${file:${ref}}: the file is empty`);
  return { value, inline: false };
}

const KIND_WORD: Partial<Record<Section, string>> = { servers: "SERVER", storageTargets: "STORAGE", webhooks: "WEBHOOK" };

/** The variable export names a secret after: SQLGUARD_SECRET_<KIND>_<NAME>, e.g. SQLGUARD_SECRET_SERVER_PROD_DB. */
export function placeholderName(section: Section, name: string): string {
  return `SQLGUARD_SECRET_${KIND_WORD[section] ?? section.toUpperCase()}_${name.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`;
}

/** The placeholder export writes for a stored secret. */
export function placeholderFor(section: Section, name: string): string {
  return `\${env:${placeholderName(section, name)}}`;
}
