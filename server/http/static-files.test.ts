import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStaticHandler } from "./static-files.ts";

/** Raw GET (fetch would decompress and hide the encoding). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });
}

describe("console static files", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-static-"));
  const script = "console.log('sqlguard');\n".repeat(200);
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    fs.mkdirSync(path.join(root, "_next/static/chunks"), { recursive: true });
    fs.mkdirSync(path.join(root, "backups"), { recursive: true });
    fs.writeFileSync(path.join(root, "index.html"), "<!doctype html><title>SQLGuard</title>");
    fs.writeFileSync(path.join(root, "404.html"), "<!doctype html><title>Not found</title>");
    fs.writeFileSync(path.join(root, "backups/index.html"), "<!doctype html><title>Backups</title>");
    fs.writeFileSync(path.join(root, "_next/static/chunks/app.js"), script);
    fs.writeFileSync(path.join(root, "secret.png"), Buffer.from([137, 80, 78, 71]));
    fs.writeFileSync(path.join(os.tmpdir(), "outside-the-root.txt"), "private");
    server = http.createServer(createStaticHandler(root)).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("gzips text to clients that accept it, and caches hashed assets for a year", async () => {
    const zipped = await get(`${base}/_next/static/chunks/app.js`, { "accept-encoding": "gzip, br" });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(zlib.gunzipSync(zipped.body).toString()).toBe(script);
    expect(zipped.body.length).toBeLessThan(script.length / 10);
    const plain = await get(`${base}/_next/static/chunks/app.js`);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body.toString()).toBe(script);
  });

  it("serves directory pages, never leaves the root, and answers unknown paths with the 404 page", async () => {
    expect((await get(`${base}/backups/`)).body.toString()).toContain("Backups");
    expect((await get(`${base}/backups`)).body.toString()).toContain("Backups");
    const png = await get(`${base}/secret.png`, { "accept-encoding": "gzip" });
    expect(png.headers["content-encoding"]).toBeUndefined();
    const outside = await get(`${base}/..%2Foutside-the-root.txt`);
    expect(outside.status).toBe(404);
    expect(outside.body.toString()).not.toContain("private");
    const missing = await get(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toContain("Not found");
  });
});
