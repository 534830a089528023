# syntax=docker/dockerfile:1
# SQLGuard image: one Node process serving GraphQL, /metrics, /healthz and the prebuilt console.
#   docker build -t sqlguard .
#   docker run -p 8080:8080 -v sqlguard-data:/data \
#     -e DATABASE_URL=mysql://user:pass@host:3306/sqlguard -e SQLGUARD_SECRET_KEY=... sqlguard

# --- build: full install (postinstall runs `prisma generate`), then the static console ------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
# Only what `npm ci` and its postinstall need, so this layer is cached until dependencies change.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma.mjs ./scripts/
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY . .
RUN node scripts/ensure-console.mjs --force && node scripts/build-server.mjs

# --- prod-deps: runtime dependencies only ----------------------------------------------------------
FROM node:24-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the postinstall needs the dev-only prisma CLI; the generated client comes from
# the build stage instead.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime ---------------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# The PostgreSQL client major version, from the PostgreSQL project's apt repository (PGDG): a pg_dump
# backs up servers of its own major version and older (back to 9.2), so 17 covers PostgreSQL 12-17;
# SQLGuard refuses a newer server with a clear message. Build with --build-arg PG_CLIENT_MAJOR=18
# for PostgreSQL 18 servers.
ARG PG_CLIENT_MAJOR=17
# PGDG's signing key (fingerprint B97B 0AFC AA1A 47F0 44F2 44A0 7FCC 7D46 ACCC 4CF8), copied from
# Debian's postgresql-common package: kept in the repository, so the build downloads no key.
COPY deploy/docker/apt.postgresql.org.asc /usr/share/keyrings/apt.postgresql.org.asc
# Dump and restore clients (default-mysql-client provides mariadb-dump / mysqldump and mariadb /
# mysql; postgresql-client-N provides pg_dump, pg_restore and psql N in /usr/lib/postgresql/N/bin;
# mydumper provides mydumper and myloader, the PARALLEL engine for MySQL/MariaDB),
# compression, TLS roots, time zones for schedules, and tini so dump child processes are reaped and
# signals forwarded. ca-certificates comes first: apt reaches apt.postgresql.org over HTTPS. The
# last line fails the build unless pg_dump ${PG_CLIENT_MAJOR} is where SQLGuard looks for it.
RUN set -eu \
 && apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && . /etc/os-release \
 && printf '%s\n' 'Types: deb' 'URIs: https://apt.postgresql.org/pub/repos/apt' "Suites: ${VERSION_CODENAME}-pgdg" \
      'Components: main' 'Signed-By: /usr/share/keyrings/apt.postgresql.org.asc' > /etc/apt/sources.list.d/pgdg.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      default-mysql-client "postgresql-client-${PG_CLIENT_MAJOR}" mydumper age zstd tzdata tini \
 && rm -rf /var/lib/apt/lists/* \
 && "/usr/lib/postgresql/${PG_CLIENT_MAJOR}/bin/pg_dump" --version | grep -q " ${PG_CLIENT_MAJOR}\."

# glibc's malloc and V8's flags are set by bin/sqlguard-server (the CMD), as in npm start.
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    SQLGUARD_PORT=8080 \
    SQLGUARD_DATA_DIR=/data
WORKDIR /app

# Application files stay root-owned (read-only for the service user).
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
# The migrations, applied by the server at start.
COPY --from=build /app/prisma ./prisma
# The compiled server and CLI (scripts/build-server.mjs: esbuild, node_modules external; the generated
# Prisma client is bundled in), so the image runs plain `node`, not tsx, and carries no TypeScript.
COPY --from=build /app/dist ./dist
COPY --from=build /app/console/out ./console/out
# The `sqlguard` CLI (restore, recover-metadata, config): `docker exec … node bin/sqlguard.mjs restore …`
# (it runs dist/cli.js).
COPY --from=build /app/bin ./bin

# The image's `node` user (uid 1000) owns only the data directory.
RUN mkdir -p /data && chown node:node /data
USER node

EXPOSE 8080
VOLUME /data
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SQLGUARD_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# bin/sqlguard-server: node with the flags of the role (malloc, young generation, heap growth; a
# worker single-threaded), the same file npm start runs and bench:memory measures.
CMD ["bin/sqlguard-server"]
