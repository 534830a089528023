/** One sample line: its full name (with a histogram's _bucket/_sum/_count), labels and value. */
export type PromSample = { name: string; labels: Record<string, string>; value: number };
export type PromType = "counter" | "gauge" | "histogram" | "summary" | "untyped";
/** A metric family: the samples under one # TYPE. */
export type PromFamily = { name: string; type: PromType; help: string | null; samples: PromSample[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set<PromType>(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<PromType, string[]> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

/**
 * A strict parser of the Prometheus text exposition format (0.0.4). It throws, naming the line, on
 * anything Prometheus would reject or that signals a broken exporter: bad names or escapes, a
 * value that is not a float, a # TYPE after its samples or twice, a family split in two, a sample
 * whose name does not belong to its family, a duplicate series or label, reserved `__` labels,
 * and histograms whose buckets are not cumulative or whose +Inf bucket differs from _count.
 */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const typed = new Set<string>();
  const series = new Set<string>();
  let current: PromFamily | null = null;
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition must end with a line feed");
  for (const [index, line] of lines.entries()) {
    const fail = (problem: string): never => {
      throw new Error(`line ${index + 1}: ${problem}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === "") continue;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      if (METRIC_NAME.exec(name)?.[0] !== name) fail("invalid metric name");
      let family = families.get(name);
      if (family && family !== current) fail("metadata of a family after another family");
      if (!family) families.set(name, (family = { name, type: "untyped", help: null, samples: [] }));
      current = family;
      if (kind === "HELP") {
        if (family.help !== null) fail("second HELP");
        family.help = unescapeValue(rest, false, fail);
      } else {
        if (family.samples.length || typed.has(name)) fail("TYPE after samples or twice");
        if (!TYPES.has(rest as PromType)) fail("unknown type");
        family.type = rest as PromType;
        typed.add(name);
      }
      continue;
    }
    if (line.startsWith("#")) continue; // a plain comment
    const sample = parseSample(line, fail);
    const owner: PromFamily | null = current;
    if (!owner || !SUFFIXES[owner.type].some((suffix) => sample.name === owner.name + suffix)) {
      if (families.has(sample.name)) fail("sample of a family after another family");
      families.set(sample.name, (current = { name: sample.name, type: "untyped", help: null, samples: [] }));
    }
    const key = `${sample.name}{${Object.entries(sample.labels)
      .sort()
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}}`;
    if (series.has(key)) fail("duplicate series");
    series.add(key);
    current!.samples.push(sample);
  }
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

/** The value of the one sample with exactly these labels, or undefined. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name) ?? [...families.values()].find((f) => f.samples.some((s) => s.name === name));
  const want = JSON.stringify(Object.entries(labels).sort());
  return family?.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

function parseSample(line: string, fail: (problem: string) => never): PromSample {
  const name = METRIC_NAME.exec(line)?.[0] ?? fail("invalid metric name");
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    while (!rest.startsWith("}")) {
      const label = LABEL_NAME.exec(rest)?.[0] ?? fail("invalid label name");
      if (label.startsWith("__")) fail("reserved label name");
      if (label in labels) fail("duplicate label");
      rest = rest.slice(label.length);
      if (!rest.startsWith('="')) fail('expected =" after a label name');
      const end = closingQuote(rest, 2) ?? fail("unterminated label value");
      labels[label] = unescapeValue(rest.slice(2, end), true, fail);
      rest = rest.slice(end + 1);
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (!rest.startsWith("}")) fail("expected , or } after a label value");
    }
    rest = rest.slice(1);
  }
  const parts = /^ +(\S+)(?: +(-?\d+))?$/.exec(rest) ?? fail("expected a value (and an optional timestamp)");
  const raw = parts[1]!;
  // Go's ParseFloat, as Prometheus uses it: Inf and NaN in any case (prom-client writes "Nan").
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(raw);
  const float = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw);
  if (!special && !float) fail("value is not a float");
  const value = !special
    ? Number(raw)
    : special[2]!.toLowerCase() === "nan"
      ? special[1]
        ? fail("signed NaN")
        : NaN
      : special[1] === "-"
        ? -Infinity
        : Infinity;
  return { name, labels, value };
}

function closingQuote(s: string, from: number): number | null {
  for (let i = from; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === '"') return i;
  }
  return null;
}

function unescapeValue(s: string, quotes: boolean, fail: (problem: string) => never): string {
  return s.replace(/\\(.?)/g, (_m, c: string) => (c === "\\" ? "\\" : c === "n" ? "\n" : quotes && c === '"' ? '"' : fail(`invalid escape \\${c}`)));
}

function checkHistogram(family: PromFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (s.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      group.buckets.push([le === "+Inf" ? Infinity : Number(le), s.value]);
    } else if (s.name.endsWith("_count")) group.count = s.value;
    else group.sum = s.value;
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    if (sorted.at(-1)?.[0] !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`);
    sorted.forEach(([, v], i) => {
      if (i > 0 && v < sorted[i - 1]![1]) throw new Error(`${family.name}${key}: buckets are not cumulative`);
    });
    if (g.count === undefined || g.sum === undefined || sorted.at(-1)![1] !== g.count)
      throw new Error(`${family.name}${key}: _count and _sum must exist and _count equal the +Inf bucket`);
  }
}
