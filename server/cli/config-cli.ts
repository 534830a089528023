import fs from "node:fs/promises";
import { text } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { formatPlan, fromWire, PLAN_SELECTION, wantsColour, type WirePlan } from "./plan-format.ts";
import { callServer, DocumentRefusedError, ServerCallError, type ServerConnection } from "./server-client.ts";
import { CONFIG_USAGE, UsageError, type CliEnv, type CliIo } from "./usage.ts";

/** Exit codes of `sqlguard config`: a CI job gates on DIFFERS. */
export const EXIT = { OK: 0, ERROR: 1, DIFFERS: 2 } as const;

const DEFAULT_URL = "http://127.0.0.1:8080";

type Terminal = { isTTY?: boolean };

/**
 * `sqlguard config export|diff|apply`: the configuration document of a running server, over
 * GraphQL with an API token. Resolves with the exit code: 0, 2 when `diff` finds differences,
 * 1 on any error (usage too, so that 2 always means drift). The server resolves the document's
 * `${env:…}` / `${file:…}` references, where it is applied; the CLI sends the document as written.
 */
export async function runConfigCommand(argv: string[], env: CliEnv, io: CliIo, terminal: Terminal = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === "--help" || sub === "-h" || rest.includes("--help") || rest.includes("-h")) {
    (sub ? io.out : io.err)(CONFIG_USAGE);
    return sub ? EXIT.OK : EXIT.ERROR;
  }
  try {
    if (sub === "export") return await exportCommand(rest, env, io);
    if (sub === "diff" || sub === "apply") return await planCommand(sub, rest, env, io, terminal);
    throw new UsageError("config", `unknown subcommand ${JSON.stringify(sub)}: use export, diff or apply`);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`sqlguard config: ${(error as Error).message}\n${CONFIG_USAGE}`);
    } else if (error instanceof DocumentRefusedError) {
      io.err(`sqlguard config ${sub}: the document is refused (nothing was changed):`);
      for (const p of error.problems) io.err(`  ${p.field}: ${p.problem}`);
    } else if (error instanceof ServerCallError) {
      io.err(`sqlguard config ${sub}: ${error.message}`);
    } else throw error;
    return EXIT.ERROR;
  }
}

function connection(env: CliEnv): ServerConnection {
  const token = env.SQLGUARD_TOKEN?.trim();
  if (!token) throw new UsageError("SQLGUARD_TOKEN", "is not set: an API token with the admin role (Settings → API tokens)");
  return { url: env.SQLGUARD_URL?.trim() || DEFAULT_URL, token };
}

async function exportCommand(argv: string[], env: CliEnv, io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string", short: "o" } }, strict: true, allowPositionals: false });
  const conn = connection(env);
  const { exportConfiguration: yaml } = await callServer<{ exportConfiguration: string }>(conn, `{ exportConfiguration }`, {});
  if (!values.out || values.out === "-") {
    io.out(yaml.replace(/\n$/, ""));
    return EXIT.OK;
  }
  // Written beside the target, then renamed: a CI job never reads half a document.
  const partial = `${values.out}.partial`;
  await fs.writeFile(partial, yaml);
  await fs.rename(partial, values.out);
  io.err(`exported to ${values.out}`);
  return EXIT.OK;
}

async function planCommand(sub: "diff" | "apply", argv: string[], env: CliEnv, io: CliIo, terminal: Terminal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: "string", short: "f" },
      prune: { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      output: { type: "string", short: "o", default: "text" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (sub === "diff" && values["dry-run"]) throw new UsageError("--dry-run", "is for apply; diff never changes anything");
  if (values.output !== "text" && values.output !== "json") throw new UsageError("--output", "must be text or json");
  if (!values.file) throw new UsageError("-f", "is required: the document (sqlguard.yaml, or - for stdin)");
  const conn = connection(env);
  const document = await readDocument(values.file);
  const wire =
    sub === "diff"
      ? (
          await callServer<{ planConfiguration: WirePlan }>(
            conn,
            `query($d: String!, $p: Boolean) { planConfiguration(document: $d, prune: $p) { ${PLAN_SELECTION} } }`,
            { d: document, p: values.prune },
          )
        ).planConfiguration
      : (
          await callServer<{ applyConfiguration: WirePlan }>(
            conn,
            `mutation($d: String!, $p: Boolean, $n: Boolean) { applyConfiguration(document: $d, prune: $p, dryRun: $n) { ${PLAN_SELECTION} } }`,
            { d: document, p: values.prune, n: values["dry-run"] },
          )
        ).applyConfiguration;
  const plan = fromWire(wire);
  if (values.output === "json") io.out(JSON.stringify(plan, null, 2));
  else for (const line of formatPlan(plan, wantsColour(terminal.isTTY, env))) io.out(line);
  return sub === "diff" && !plan.empty ? EXIT.DIFFERS : EXIT.OK;
}

async function readDocument(file: string): Promise<string> {
  try {
    return file === "-" ? await text(process.stdin) : await fs.readFile(file, "utf8");
  } catch (error) {
    throw new UsageError("-f", `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
