#!/usr/bin/env node
// `npm test`: type check, lint (Biome), schema check, vitest, then Playwright, streaming their output, and a
// closing line `N passed, N failed[, N skipped]` computed from the runners' JSON reports (CI reads
// only that line). Both runners always run; a failed check, or a runner that crashed without a
// report, counts as one failure. Exits 1 if anything failed.
// Flags: --unit skips Playwright, --e2e skips vitest.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const unknown = [...args].filter((a) => a !== "--unit" && a !== "--e2e");
if (unknown.length > 0 || (args.has("--unit") && args.has("--e2e"))) {
  console.error("usage: node scripts/test.mjs [--unit | --e2e]");
  process.exit(2);
}
const reports = {
  vitest: path.join(root, "reports/vitest.json"),
  playwright: path.join(root, "reports/playwright.json"),
};

/** Runs a command from the repo root with inherited stdio; resolves to its exit code (1 on signal or spawn error). */
function run(command, commandArgs) {
  console.log(`\n> ${[command, ...commandArgs].join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: root, stdio: "inherit" });
    child.on("error", (error) => {
      console.error(`could not start ${command}: ${error.message}`);
      resolve(1);
    });
    child.on("close", (code, signal) => resolve(signal ? 1 : (code ?? 1)));
  });
}

/** Parses a JSON report, or returns undefined when it is missing or unreadable. */
function readReport(file) {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** Counts from vitest's JSON report; a file that failed outside any test (e.g. on import) counts once. */
function vitestCounts(report) {
  const failedFiles = (report.testResults ?? []).filter(
    (file) => file.status === "failed" && !(file.assertionResults ?? []).some((t) => t.status === "failed"),
  ).length;
  return {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + failedFiles,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
}

/** The first line of a failure message, without colour codes, cut to 300 characters. */
function firstLine(message) {
  const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
  const line =
    String(message ?? "")
      .replace(ansi, "")
      .split("\n")
      .find((l) => l.trim() !== "") ?? "";
  return line.trim().slice(0, 300);
}

/** "file › test: first line of the failure" for each failed vitest test (and each file that failed outside one). */
function vitestFailures(report) {
  const out = [];
  for (const file of report.testResults ?? []) {
    const name = path.relative(root, file.name ?? "");
    const failed = (file.assertionResults ?? []).filter((t) => t.status === "failed");
    for (const t of failed) out.push(`${name} › ${t.fullName ?? t.title}: ${firstLine(t.failureMessages?.[0])}`);
    if (file.status === "failed" && failed.length === 0) out.push(`${name}: ${firstLine(file.message)}`);
  }
  return out;
}

/** The same for Playwright: each test whose outcome was unexpected, and each error outside tests. */
function playwrightFailures(report) {
  const out = [];
  const walk = (suite, file) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        if (t.status !== "unexpected") continue;
        const last = t.results?.at(-1);
        out.push(`${spec.file ?? file} › ${spec.title}: ${firstLine(last?.error?.message ?? last?.status)}`);
      }
    }
    for (const child of suite.suites ?? []) walk(child, suite.file ?? file);
  };
  for (const suite of report.suites ?? []) walk(suite, suite.file);
  for (const e of report.errors ?? []) out.push(`(outside a test): ${firstLine(e.message)}`);
  return out;
}

/** Counts from Playwright's JSON report; flaky tests passed on retry. Errors outside tests count once each. */
function playwrightCounts(report) {
  const stats = report.stats ?? {};
  return {
    passed: (stats.expected ?? 0) + (stats.flaky ?? 0),
    failed: (stats.unexpected ?? 0) + (report.errors?.length ?? 0),
    skipped: stats.skipped ?? 0,
  };
}

/** Runs one test runner and turns its report (and exit code) into counts. */
async function runRunner(name, command, commandArgs, reportFile, countsOf, failuresOf) {
  rmSync(reportFile, { force: true }); // a stale report must not stand in for a crashed run
  const code = await run(command, commandArgs);
  const report = readReport(reportFile);
  if (!report) {
    return { name, passed: 0, failed: 1, skipped: 0, note: `exited ${code} without a report` };
  }
  const counts = { ...countsOf(report), failures: failuresOf(report) };
  // A non-zero exit with nothing failed in the report (unhandled error, no tests found, ...) still fails.
  if (code !== 0 && counts.failed === 0) return { name, ...counts, failed: 1, note: `exited ${code}` };
  return { name, ...counts };
}

/** Runs an npm script that is a pass/fail check. */
async function runCheck(name) {
  const code = await run("npm", ["run", "--silent", name]);
  return { name, passed: 0, failed: code === 0 ? 0 : 1, skipped: 0, note: code === 0 ? "ok" : `FAILED (exit ${code})` };
}

mkdirSync(path.join(root, "reports"), { recursive: true });
const bin = (name) => path.join(root, "node_modules/.bin", name);
const results = [await runCheck("typecheck"), await runCheck("lint"), await runCheck("schema:check")];
if (!args.has("--e2e")) {
  results.push(
    await runRunner(
      "vitest",
      bin("vitest"),
      // e2e/*.spec.ts are Playwright's; keep vitest away from them whatever its config includes.
      ["run", "--reporter=default", "--reporter=json", "--outputFile.json=reports/vitest.json", "--exclude=e2e/**"],
      reports.vitest,
      vitestCounts,
      vitestFailures,
    ),
  );
}
if (!args.has("--unit")) {
  results.push(await runRunner("playwright", bin("playwright"), ["test"], reports.playwright, playwrightCounts, playwrightFailures));
}

const total = { passed: 0, failed: 0, skipped: 0 };
console.log("\nSummary");
for (const r of results) {
  total.passed += r.passed;
  total.failed += r.failed;
  total.skipped += r.skipped;
  const detail =
    r.name === "typecheck" || r.name === "lint" || r.name === "schema:check"
      ? r.note
      : `${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.note ? ` (${r.note})` : ""}`;
  console.log(`  ${r.name.padEnd(12)} ${detail}`);
  // CI shows only the end of the output: name what failed here, where it is seen.
  for (const failure of r.failures ?? []) console.log(`    FAILED ${failure}`);
}
console.log(`${total.passed} passed, ${total.failed} failed${total.skipped > 0 ? `, ${total.skipped} skipped` : ""}`);
process.exitCode = total.failed > 0 ? 1 : 0;
