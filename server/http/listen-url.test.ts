import { describe, expect, it } from "vitest";
import { listenUrl } from "./listen-url.ts";

describe("listenUrl", () => {
  it.each([
    ["0.0.0.0", 8080, "http://localhost:8080"],
    ["::", 8080, "http://localhost:8080"],
    ["[::]", 9000, "http://localhost:9000"],
    ["127.0.0.1", 8080, "http://127.0.0.1:8080"],
    ["::1", 8080, "http://[::1]:8080"],
    ["backup.internal", 443, "http://backup.internal:443"],
  ])("shows %s:%i as %s", (host, port, url) => {
    expect(listenUrl(host, port)).toBe(url);
  });
});
