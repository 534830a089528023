import { describe, expect, it } from "vitest";
import { memoryLogger } from "../testing/test-db.ts";

describe("logger", () => {
  it("redacts credentials wherever they sit in the logged data", () => {
    const { logger, lines } = memoryLogger();
    const secret = "hunter2-secret";
    logger.child({ component: "runner" }).info(
      {
        password: secret,
        server: { password: secret, host: "db" },
        target: { secretAccessKey: secret },
        env: { MYSQL_PWD: secret, PGPASSWORD: secret, PATH: "/usr/bin" },
        headers: { authorization: `Bearer ${secret}`, cookie: `sqlguard_session=${secret}` },
        token: secret,
      },
      "starting dump",
    );
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(lines[0]).not.toContain(secret);
    expect(line).toMatchObject({ component: "runner", msg: "starting dump", server: { password: "[redacted]", host: "db" }, env: { PATH: "/usr/bin" } });
  });
});
