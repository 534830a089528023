// Next.js config for the SQLGuard console: a static export that the server serves from console/out.
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { NextConfig } from "next";

// The console has no package.json or node_modules of its own; everything resolves from the repo root.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// `next build` runs with NODE_ENV=production; `next dev` (scripts/dev.mjs) does not.
const dev = process.env.NODE_ENV !== "production";
// Where `next dev` forwards the API: scripts/dev.mjs sets it; otherwise the server's default port.
const apiOrigin = process.env.SQLGUARD_DEV_API_URL ?? `http://127.0.0.1:${process.env.SQLGUARD_PORT || "8080"}`;

const config: NextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  turbopack: { root: repoRoot },
  // TypeScript 7 has no compiler API; the repo type-checks with `tsc` instead.
  typescript: { ignoreBuildErrors: true },
  // In development only: the dev server proxies the API so the browser stays same-origin (session
  // cookie, SSE). A static export has no rewrites; in production the SQLGuard server serves both.
  ...(dev && {
    // `/graphql` must not be redirected to `/graphql/` before the rewrite (a second round trip per request).
    skipTrailingSlashRedirect: true,
    async rewrites() {
      return [
        { source: "/graphql", destination: `${apiOrigin}/graphql` },
        { source: "/api/:path*", destination: `${apiOrigin}/api/:path*` },
      ];
    },
  }),
};

export default config;
