// The Dockerfile is reviewed, not built, on this machine (no Docker engine): these checks read it
// the way a reviewer would. The runtime image must carry a pg_dump that backs up PostgreSQL 16 and
// 17, from the PostgreSQL project's apt repository, trusted through a pinned signing key.
import crypto from "node:crypto";
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { buildPgDump } from "../server/runner/dumpers/pg-dumper.ts";

const ROOT = new URL("../", import.meta.url);
const PGDG_FINGERPRINT = "B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8";
/** Debian releases apt.postgresql.org publishes `<codename>-pgdg` suites for (bullseye ended with PostgreSQL 17's cycle). */
const PGDG_CODENAMES = new Set(["bookworm", "trixie"]);

type Instruction = { keyword: string; args: string };

/** Instructions of a Dockerfile: continuation lines joined, comment lines (also inside a continuation) dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line)) continue;
    if (!pending && !line.trim()) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${line.replace(/\\\s*$/, "")}${continued ? " " : ""}`;
    if (continued) continue;
    const match = /^\s*(\w+)\s+([\s\S]*)$/.exec(pending);
    if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.replace(/\s+/g, " ").trim() });
    pending = "";
  }
  return out;
}

/** The last stage, with its build arguments' defaults substituted into every later instruction. */
function runtimeStage(all: Instruction[]): { from: string; steps: Instruction[] } {
  const start = all.findLastIndex((i) => i.keyword === "FROM");
  const args = new Map<string, string>();
  const steps: Instruction[] = [];
  for (const i of all.slice(start + 1)) {
    if (i.keyword === "ARG") {
      const [name, value] = i.args.split("=", 2) as [string, string | undefined];
      if (value !== undefined) args.set(name, value);
      continue;
    }
    steps.push({ ...i, args: i.args.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a: string, b: string) => args.get(a ?? b) ?? whole) });
  }
  return { from: all[start]!.args, steps };
}

/** The v4 fingerprint of the first public key in an ASCII-armored OpenPGP block (RFC 4880 §12.2). */
function fingerprint(armored: string): string {
  const body = armored
    .split("-----BEGIN PGP PUBLIC KEY BLOCK-----")[1]!
    .split("-----END PGP PUBLIC KEY BLOCK-----")[0]!
    .split("\n\n")
    .slice(1)
    .join("\n")
    .split("\n")
    .filter((l) => !l.startsWith("="))
    .join("");
  const bytes = Buffer.from(body, "base64");
  const tag = bytes[0]!;
  expect(tag & 0x80, "an OpenPGP packet").toBe(0x80);
  let length: number;
  let offset: number;
  if (tag & 0x40) {
    expect(tag & 0x3f, "a public-key packet").toBe(6);
    expect(bytes[1], "a two-byte new-format length").toBeGreaterThanOrEqual(192);
    length = ((bytes[1]! - 192) << 8) + bytes[2]! + 192;
    offset = 3;
  } else {
    expect((tag >> 2) & 0x0f, "a public-key packet").toBe(6);
    const size = [1, 2, 4][tag & 0x03]!;
    length = bytes.readUIntBE(1, size);
    offset = 1 + size;
  }
  const packet = bytes.subarray(offset, offset + length);
  expect(packet[0], "a version 4 key").toBe(4);
  const header = Buffer.from([0x99, length >> 8, length & 0xff]);
  return crypto.createHash("sha1").update(header).update(packet).digest("hex").toUpperCase();
}

const dockerfile = fs.readFileSync(new URL("Dockerfile", ROOT), "utf8");
const runtime = runtimeStage(instructions(dockerfile));
const runs = runtime.steps.filter((i) => i.keyword === "RUN").map((i) => i.args);
/** The shell steps of every RUN of the runtime stage, in order. */
const steps = runs.flatMap((r) => r.split(/\s*&&\s*/));
const installs = steps.filter((s) => /^apt-get install\b/.test(s));
const packages = installs
  .flatMap((s) => s.split(" ").filter((w) => !w.startsWith("-") && !["apt-get", "install"].includes(w)))
  .map((p) => p.replace(/^"|"$/g, ""));

describe("the Docker image's database clients", () => {
  it("installs a versioned PostgreSQL client of major 17 or newer, and not Debian's older default", () => {
    const majors = packages
      .map((p) => /^postgresql-client-(\d+)$/.exec(p)?.[1])
      .filter(Boolean)
      .map(Number);
    expect(majors.length, `postgresql-client-N among ${packages.join(" ")}`).toBe(1);
    expect(majors[0]).toBeGreaterThanOrEqual(17);
    expect(packages).not.toContain("postgresql-client");
    expect(packages).toEqual(expect.arrayContaining(["default-mysql-client", "zstd", "ca-certificates", "tini"]));
    // The build itself fails unless that pg_dump is where SQLGuard looks (/usr/lib/postgresql/N/bin).
    expect(steps).toContain(`"/usr/lib/postgresql/${majors[0]}/bin/pg_dump" --version | grep -q " ${majors[0]}\\."`);
  });

  it("takes it from apt.postgresql.org for the base image's Debian release, signed by the pinned PGDG key", () => {
    const codename = /bookworm|trixie|bullseye/.exec(runtime.from)?.[0];
    expect(PGDG_CODENAMES.has(codename ?? ""), `FROM ${runtime.from}`).toBe(true);

    const copy = runtime.steps.find((i) => i.keyword === "COPY" && /\.asc\s/.test(`${i.args} `));
    expect(copy, "a COPY of the repository's signing key").toBeDefined();
    const [source, target] = copy!.args.split(" ") as [string, string];
    expect(fingerprint(fs.readFileSync(new URL(source, ROOT), "utf8"))).toBe(PGDG_FINGERPRINT);

    const sourceIndex = steps.findIndex((s) => s.includes("/etc/apt/sources.list.d/pgdg.sources"));
    expect(sourceIndex, "a deb822 source for PGDG").toBeGreaterThan(-1);
    const source822 = steps[sourceIndex]!;
    for (const field of [
      "'Types: deb'",
      "'URIs: https://apt.postgresql.org/pub/repos/apt'",
      `"Suites: \${VERSION_CODENAME}-pgdg"`,
      "'Components: main'",
      `'Signed-By: ${target}'`,
    ]) {
      expect(source822).toContain(field);
    }
    expect(steps.slice(0, sourceIndex)).toContain(". /etc/os-release");
    // HTTPS needs the CA roots before apt fetches from the new source; the index is refreshed after it is added.
    expect(steps.findIndex((s) => /^apt-get install .*\bca-certificates\b/.test(s))).toBeLessThan(sourceIndex);
    const pgInstall = steps.findIndex((s) => /^apt-get install .*postgresql-client-\d+/.test(s));
    const update = steps.slice(sourceIndex + 1, pgInstall).indexOf("apt-get update");
    expect(update, "apt-get update between adding the source and installing from it").toBeGreaterThan(-1);
    expect(steps.slice(pgInstall)).toContain("rm -rf /var/lib/apt/lists/*");
  });

  it("lets that pg_dump back up PostgreSQL 16 and 17 servers through SQLGuard's version check", () => {
    const major = Number(packages.map((p) => /^postgresql-client-(\d+)$/.exec(p)?.[1]).find(Boolean));
    const tools = {
      mysqlDump: null,
      pgDump: { path: `/usr/lib/postgresql/${major}/bin/pg_dump`, version: `pg_dump (PostgreSQL) ${major}.6 (Debian ${major}.6-1.pgdg120+1)` },
    };
    const conn = { engine: "POSTGRESQL" as const, host: "pg", port: 5432, username: "backup", password: null, tls: false };
    for (const server of ["16.10 (Debian 16.10-1.pgdg120+1)", "17.6"]) expect(buildPgDump(conn, null, "app", tools, server).command).toBe(tools.pgDump.path);
    expect(() => buildPgDump(conn, null, "app", tools, `${major + 1}.0`)).toThrow(`cannot dump a PostgreSQL ${major + 1} server`);
  });
});
