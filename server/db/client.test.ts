import { describe, expect, it } from "vitest";
import { withSocketDefaults } from "./client.ts";

describe("the metadata connection URL", () => {
  it("gets connect and socket timeouts, so a server that stops answering fails the query instead of hanging it", () => {
    const url = new URL(withSocketDefaults("mysql://root@127.0.0.1:3306/sqlguard"));
    expect(url.searchParams.get("connectTimeout")).toBe("10000");
    expect(url.searchParams.get("socketTimeout")).toBe("120000");
    expect(url.pathname).toBe("/sqlguard");
  });

  it("keeps what the operator set, and every other option", () => {
    const url = new URL(withSocketDefaults("mysql://u:p%40ss@db:3307/meta?socketTimeout=5000&ssl=true"));
    expect(url.searchParams.get("socketTimeout")).toBe("5000");
    expect(url.searchParams.get("ssl")).toBe("true");
    expect(url.searchParams.get("connectTimeout")).toBe("10000");
    expect(decodeURIComponent(url.password)).toBe("p@ss");
  });
});
