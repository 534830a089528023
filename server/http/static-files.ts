import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import zlib from "node:zlib";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".map": "application/json",
};

/** Text types worth compressing; images and fonts are compressed already. */
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".json", ".txt", ".svg", ".map"]);

/** Gzipped bodies by file, made on first request (the export never changes while the server runs). */
const gzipped = new Map<string, { mtimeMs: number; body: Buffer }>();

/**
 * Serves the console's static export (Next.js `out/`): `/x` → `x`, `x.html` or `x/index.html`;
 * unknown paths get `404.html`. Never leaves `root`. Hashed assets under `_next/static` are cached
 * for a year, everything else is revalidated.
 */
export function createStaticHandler(root: string) {
  const base = path.resolve(root);
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = resolveFile(base, pathname);
    if (!file) {
      const notFound = path.join(base, "404.html");
      if (!fs.existsSync(path.join(base, "index.html"))) {
        res.writeHead(503, { "content-type": "text/plain; charset=utf-8" }).end("The console is not built: run `npm run build:console`.\n");
        return;
      }
      send(req, res, fs.existsSync(notFound) ? notFound : null, 404);
      return;
    }
    send(req, res, file, 200);
  };
}

function resolveFile(base: string, pathname: string): string | null {
  const candidates = pathname.endsWith("/") ? [`${pathname}index.html`] : [pathname, `${pathname}.html`, `${pathname}/index.html`];
  for (const candidate of candidates) {
    const full = path.resolve(base, `.${candidate}`);
    if (full !== base && !full.startsWith(base + path.sep)) return null;
    try {
      if (fs.statSync(full).isFile()) return full;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

function send(req: IncomingMessage, res: ServerResponse, file: string | null, status: number): void {
  if (!file) {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end("Not found\n");
    return;
  }
  const immutable = file.includes(`${path.sep}_next${path.sep}static${path.sep}`);
  const stat = fs.statSync(file);
  const headers: Record<string, string | number> = {
    "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    "x-content-type-options": "nosniff",
    vary: "accept-encoding",
  };
  if (COMPRESSIBLE.has(path.extname(file)) && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
    const body = gzipOf(file, stat.mtimeMs);
    res.writeHead(status, { ...headers, "content-encoding": "gzip", "content-length": body.length });
    res.end(req.method === "HEAD" ? undefined : body);
    return;
  }
  res.writeHead(status, { ...headers, "content-length": stat.size });
  if (req.method === "HEAD") res.end();
  else fs.createReadStream(file).pipe(res);
}

/** The file gzipped at level 9, cached until the file changes (a rebuild of the console). */
function gzipOf(file: string, mtimeMs: number): Buffer {
  const hit = gzipped.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.body;
  const body = zlib.gzipSync(fs.readFileSync(file), { level: 9 });
  gzipped.set(file, { mtimeMs, body });
  return body;
}
