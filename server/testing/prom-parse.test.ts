import { describe, expect, it } from "vitest";
import { parsePrometheusText, sampleValue } from "./prom-parse.ts";

const VALID = `# HELP jobs_total Jobs done, with a \\\\ and a \\n in the help.
# TYPE jobs_total counter
jobs_total{queue="a \\"quoted\\" \\\\ name\\nx",kind="k"} 3
jobs_total{queue="b",} 1e3 1700000000000
# TYPE lag gauge
lag NaN
lag_other +Inf
# TYPE took_seconds histogram
took_seconds_bucket{le="1"} 1
took_seconds_bucket{le="+Inf"} 2
took_seconds_sum 3.5
took_seconds_count 2
`;

describe("parsePrometheusText", () => {
  it("reads names, escaped labels, special floats, timestamps and histograms", () => {
    const families = parsePrometheusText(VALID);
    expect([...families.keys()]).toEqual(["jobs_total", "lag", "lag_other", "took_seconds"]);
    expect(families.get("jobs_total")!.help).toBe("Jobs done, with a \\ and a \n in the help.");
    expect(sampleValue(families, "jobs_total", { queue: 'a "quoted" \\ name\nx', kind: "k" })).toBe(3);
    expect(sampleValue(families, "jobs_total", { queue: "b" })).toBe(1000);
    expect(sampleValue(families, "lag")).toBeNaN();
    expect(sampleValue(families, "lag_other")).toBe(Infinity);
    expect(sampleValue(families, "took_seconds_count")).toBe(2);
    expect(families.get("took_seconds")!.type).toBe("histogram");
  });

  it.each([
    ["no final line feed", "a 1"],
    ["a bad metric name", "1a 1\n"],
    ["a value that is not a float", "a one\n"],
    ["a signed NaN", "a -NaN\n"],
    ["a missing value", 'a{b="c"}\n'],
    ["an unquoted label value", "a{b=c} 1\n"],
    ["an unknown escape", 'a{b="\\t"} 1\n'],
    ["an unterminated label value", 'a{b="c} 1\n'],
    ["a duplicate label", 'a{b="1",b="2"} 1\n'],
    ["a reserved label", 'a{__name__="x"} 1\n'],
    ["a duplicate series", 'a{b="1"} 1\na{b="1"} 2\n'],
    ["a family split in two", 'a 1\nb 1\na{x="y"} 1\n'],
    ["TYPE after samples", "a 1\n# TYPE a gauge\n"],
    ["TYPE twice", "# TYPE a gauge\n# TYPE a gauge\n"],
    ["an unknown type", "# TYPE a meter\n"],
    ["a second HELP", "# HELP a x\n# HELP a y\n"],
    ["a histogram without +Inf", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ["buckets that decrease", '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ["a count unlike +Inf", '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'],
  ])("rejects %s", (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
