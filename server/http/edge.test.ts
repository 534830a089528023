// The edge's rules as a table: which browser requests pass, what is Secure, who the client is,
// and how the environment configures them.
import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { ConfigError, parseEdgeConfig } from "../config/env.ts";
import { Edge, type GuardedRoute } from "./edge.ts";

const COOKIE = "sqlguard_session=abc";

function request(method: string, headers: Record<string, string>, remoteAddress = "192.0.2.1"): IncomingMessage {
  return { method, headers: { host: "sqlguard.internal:8080", ...headers }, socket: { remoteAddress } } as unknown as IncomingMessage;
}

describe("Edge.refuse", () => {
  const edge = new Edge({ corsOrigins: ["https://ops.example.com"], publicUrl: "https://backups.example.com" });
  const json = { "content-type": "application/json" };

  it.each<[string, GuardedRoute, string, Record<string, string>, number | null]>([
    ["the console (same host)", "graphql", "POST", { ...json, cookie: COOKIE, origin: "http://sqlguard.internal:8080" }, null],
    ["the public URL behind a proxy", "graphql", "POST", { ...json, cookie: COOKIE, origin: "https://backups.example.com" }, null],
    ["a proxy's forwarded host", "graphql", "POST", { ...json, cookie: COOKIE, origin: "https://b.example.org", "x-forwarded-host": "b.example.org" }, null],
    ["an allow-listed origin", "graphql", "POST", { ...json, cookie: COOKIE, origin: "https://ops.example.com" }, null],
    ["another port of the same host", "graphql", "POST", { ...json, cookie: COOKIE, origin: "http://sqlguard.internal:9999" }, 403],
    ["an opaque origin", "graphql", "POST", { ...json, cookie: COOKIE, origin: "null" }, 403],
    ["a same-site page without Origin", "graphql", "POST", { ...json, cookie: COOKIE, "sec-fetch-site": "same-site" }, 403],
    ["no cookie: nothing ambient to abuse", "graphql", "POST", { ...json, origin: "https://evil.example" }, null],
    ["a bearer token with the cookie", "graphql", "POST", { ...json, cookie: COOKIE, authorization: "Bearer sqlg_x", origin: "https://evil.example" }, null],
    ["a form POST", "graphql", "POST", { "content-type": "application/x-www-form-urlencoded", cookie: COOKIE }, 415],
    ["a form POST without cookie", "graphql", "POST", { "content-type": "multipart/form-data; boundary=x" }, 415],
    ["JSON with a charset", "graphql", "POST", { "content-type": "application/json; charset=utf-8", cookie: COOKIE }, null],
    ["a cookie GET without the CSRF header", "graphql", "GET", { cookie: COOKIE }, 403],
    ["a cookie GET with the CSRF header", "graphql", "GET", { cookie: COOKIE, "x-graphql-yoga-csrf": "1" }, null],
    ["a bearer GET without it", "graphql", "GET", { authorization: "Bearer sqlg_x" }, null],
    ["a download link the user typed", "download", "GET", { cookie: COOKIE, "sec-fetch-site": "none" }, null],
    ["a download from a foreign page", "download", "GET", { cookie: COOKIE, "sec-fetch-site": "cross-site" }, 403],
    ["a Prometheus scrape", "metrics", "GET", {}, null],
    ["/metrics from a foreign page (basic auth is replayed)", "metrics", "GET", { origin: "https://evil.example" }, 403],
  ])("%s", (_label, route, method, headers, status) => {
    expect(edge.refuse(request(method, headers), route)?.status ?? null).toBe(status);
  });
});

describe("Edge.refuse, body size", () => {
  it("refuses a GraphQL body over the limit by its Content-Length, before reading it", () => {
    const edge = new Edge({ maxGraphQLBodyBytes: 1_000 });
    const post = (length: number) => request("POST", { "content-type": "application/json", "content-length": String(length) });
    expect(edge.refuse(post(1_000), "graphql")).toBeNull();
    expect(edge.refuse(post(1_001), "graphql")).toMatchObject({ status: 413, code: "REQUEST_ENTITY_TOO_LARGE" });
  });
});

describe("Edge.isSecure and clientAddress", () => {
  it("marks cookies Secure for an https public URL or a forwarded https", () => {
    expect(new Edge().isSecure({})).toBe(false);
    expect(new Edge().isSecure({ "x-forwarded-proto": "https" })).toBe(true);
    expect(new Edge().isSecure(new Headers({ "x-forwarded-proto": "https, http" }))).toBe(true);
    expect(new Edge({ publicUrl: "https://b.example.com" }).isSecure({})).toBe(true);
    expect(new Edge({ publicUrl: "http://b.example.com" }).isSecure({})).toBe(false);
  });

  it("takes the client address from the socket, or from the proxy's X-Forwarded-For entry when trusted", () => {
    const req = request("POST", { "x-forwarded-for": "203.0.113.9, 198.51.100.4" }, "::ffff:10.0.0.2");
    expect(new Edge().clientAddress(req)).toBe("10.0.0.2");
    expect(new Edge({ trustProxy: true }).clientAddress(req)).toBe("198.51.100.4");
    expect(new Edge({ trustProxy: true }).clientAddress(request("POST", {}, "10.0.0.3"))).toBe("10.0.0.3");
    expect(new Edge().clientAddress(undefined)).toBe("unknown");
  });
});

describe("parseEdgeConfig", () => {
  it("has no allow-list, no public URL and no proxy trust by default", () => {
    expect(parseEdgeConfig({})).toEqual({ corsOrigins: [], publicUrl: undefined, trustProxy: false, webhookAllowLinkLocal: false });
  });

  it("reads a comma-separated allow-list and the other settings", () => {
    expect(
      parseEdgeConfig({
        SQLGUARD_CORS_ORIGINS: "https://ops.example.com, http://127.0.0.1:3001/",
        SQLGUARD_PUBLIC_URL: "https://backups.example.com",
        SQLGUARD_TRUST_PROXY: "true",
        SQLGUARD_WEBHOOK_ALLOW_LINK_LOCAL: "true",
      }),
    ).toEqual({
      corsOrigins: ["https://ops.example.com", "http://127.0.0.1:3001"],
      publicUrl: "https://backups.example.com",
      trustProxy: true,
      webhookAllowLinkLocal: true,
    });
  });

  it("names every bad value", () => {
    try {
      parseEdgeConfig({ SQLGUARD_CORS_ORIGINS: "*", SQLGUARD_PUBLIC_URL: "backups", SQLGUARD_TRUST_PROXY: "yes" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const text = (error as ConfigError).problems.join("\n");
      expect(text).toMatch(/SQLGUARD_CORS_ORIGINS: must be comma-separated origins/);
      expect(text).toMatch(/SQLGUARD_PUBLIC_URL: must be an http\(s\) URL/);
      expect(text).toMatch(/SQLGUARD_TRUST_PROXY: must be true or false/);
    }
    expect(() => parseEdgeConfig({ SQLGUARD_CORS_ORIGINS: "https://ops.example.com/path" })).toThrow(ConfigError);
  });
});
