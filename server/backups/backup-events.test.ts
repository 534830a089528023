import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createTarget, runBackup } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";

type Event = { type: string; backupId: number; status: string | null; storedBytes: string | null; backup: { database: string } | null };

/** Opens a GraphQL subscription over SSE and yields each `data:` payload. */
async function* subscribe(
  url: string,
  query: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): AsyncGenerator<{ data?: { backupEvents: Event }; errors?: Array<{ extensions?: { code?: string } }> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...headers },
    body: JSON.stringify({ query }),
    signal,
  });
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n\n")) !== -1) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = message
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim())
        .join("");
      if (data) yield JSON.parse(data);
    }
  }
}

describe("backupEvents subscription", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let httpServer: http.Server;
  let url: string;
  const db = uniqueName("events");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-events-"));

  beforeAll(async () => {
    app = await createTestApp();
    httpServer = http.createServer(app.app.handle).listen(0, "127.0.0.1");
    await new Promise((r) => httpServer.once("listening", r));
    url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`;
    await createMariadbSample(db, { rows: 500 });
  });

  afterAll(async () => {
    httpServer?.close();
    await app?.close();
    await dropMariadbDatabase(db);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("streams created, running, progress and succeeded for a real backup to a viewer", async () => {
    const admin = await app.as("ADMIN");
    await app.as("VIEWER");
    const viewerToken = (
      await app.services.auth.createApiToken({ userId: 1, username: "admin", role: "ADMIN", via: "session" }, { name: "sse", role: "VIEWER" })
    ).token;
    const serverId = await createServer(admin, { name: "maria-events", engine: "MARIADB", host: "127.0.0.1", username: "root" });
    const targetId = await createTarget(admin, { name: "events-local", kind: "LOCAL", path: dir });
    const controller = new AbortController();
    const stream = subscribe(
      url,
      "subscription { backupEvents { type backupId status storedBytes backup { database } } }",
      { authorization: `Bearer ${viewerToken}` },
      controller.signal,
    );
    const first = stream.next(); // the request is open once the first read is pending
    await new Promise((r) => setTimeout(r, 300));
    const [created] = await runBackup(admin, { serverId, databases: [db], storageTargetIds: [targetId] });

    const seen: Event[] = [];
    for (let next = await first; !next.done; next = await stream.next()) {
      const event = next.value.data!.backupEvents;
      if (Number(event.backupId) !== created!.id) continue;
      seen.push(event);
      if (event.type === "STATUS" && !["PENDING", "RUNNING"].includes(event.status!)) break;
    }
    controller.abort();
    expect(seen[0]).toMatchObject({ type: "CREATED", backup: { database: db } });
    expect(seen[1]).toMatchObject({ type: "STATUS", status: "RUNNING" });
    const progress = seen.filter((e) => e.type === "PROGRESS");
    expect(progress.length).toBeGreaterThan(0);
    expect(Number(progress.at(-1)!.storedBytes)).toBeGreaterThan(0);
    expect(seen.at(-1)).toMatchObject({ type: "STATUS", status: "SUCCEEDED" });
  });

  it("refuses a subscription without credentials", async () => {
    const controller = new AbortController();
    const stream = subscribe(url, "subscription { backupEvents { type } }", {}, controller.signal);
    const { value } = await stream.next();
    controller.abort();
    expect(value?.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});
