import type { DumpEngine } from "../../runner/dump-engine.ts";
import type { ServerConnection } from "../../runner/dumpers/types.ts";

/** Options of the fake engine; every field may be changed while a test runs. */
export type FakeEngineOptions = {
  /** Databases each server reports (by port, so one test can fake several servers). */
  databases: (conn: ServerConnection) => string[];
  /** When it returns a message, inspecting the server fails with it (a server that is down). */
  down: (conn: ServerConnection) => string | null;
  /** Shell snippet standing in for the dump program (test-only: real dumps never use a shell). */
  script: string;
};

/**
 * A DumpEngine without database servers: inspection answers from `options`, and the "dump" is a
 * fast local command. For scheduler and retention unit tests and the scheduler benchmark.
 */
export function fakeEngine(overrides: Partial<FakeEngineOptions> = {}): DumpEngine & { options: FakeEngineOptions; inspections: number } {
  const options: FakeEngineOptions = {
    databases: () => ["app"],
    down: () => null,
    script: "printf 'CREATE TABLE t (id INT);\\nINSERT INTO t VALUES (1);\\n'",
    ...overrides,
  };
  const engine = {
    options,
    inspections: 0,
    tools: async () => ({ mysqlDump: { path: "/bin/true", flavor: "mariadb" as const, version: "fake 1.0" }, pgDump: null }),
    inspect: async (conn: ServerConnection) => {
      engine.inspections++;
      const down = options.down(conn);
      if (down) throw Object.assign(new Error(down), { transient: false });
      return { version: "10.11.0-fake", databases: options.databases(conn), warnings: [] };
    },
    position: async () => null,
    build: () => ({ command: "sh", args: ["-c", options.script], env: {}, description: "fake-dump", format: "sql" as const, cleanup: async () => {} }),
  };
  return engine;
}
