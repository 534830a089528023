// Prisma CLI configuration. Only the CLI reads it; the server builds its own client from its config.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: {
    // `env()` would make `prisma generate` fail when the variable is unset.
    url: process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/sqlguard",
  },
});
