// S3 upload memory: streams several GiB generated on the fly (never held in memory) through
// S3Store.put to s3rver (a child process, so this process's memory is the uploader's), and prints
// for each run the part sizes used, throughput, and this process's peak RSS above its baseline.
// Then the part plan (pure arithmetic) for sizes too large to upload here.
// Usage: npm run bench:s3 [-- --gib 10 --estimate-gib 0 --gib 2 --estimate-gib 200]
import { Readable } from "node:stream";
import { performance } from "node:perf_hooks";
import { planParts } from "../server/storage/s3-part-size.ts";
import { S3Store } from "../server/storage/s3-store.ts";
import { startS3rver } from "../server/testing/s3rver.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const args = (flag: string) => process.argv.flatMap((a, i) => (a === flag ? [Number(process.argv[i + 1])] : []));
const sizes = args("--gib");
const estimates = args("--estimate-gib");
const runs = sizes.length
  ? sizes.map((gib, i) => ({ gib, estimateGib: estimates[i] ?? 0 }))
  : [
      { gib: 10, estimateGib: 0 },
      { gib: 2, estimateGib: 200 },
    ];

/** `total` bytes in 1 MiB chunks made on demand (a fresh buffer each, as a dump's pipe delivers them). */
function generated(total: number): Readable {
  const pattern = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i += 4) pattern.writeUInt32LE((i * 2654435761) >>> 0, i);
  let sent = 0;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (sent >= total) return this.push(null);
      const size = Math.min(MiB, total - sent);
      const chunk = Buffer.allocUnsafe(size);
      pattern.copy(chunk, 0, 0, size);
      chunk.writeDoubleLE(sent, 0);
      sent += size;
      this.push(chunk);
    },
  });
}

const summary = (parts: number[]): string => {
  const groups: Array<[number, number]> = [];
  for (const size of parts) {
    const last = groups[groups.length - 1];
    if (last && last[0] === size) last[1]++;
    else groups.push([size, 1]);
  }
  return groups.map(([size, n]) => `${n} × ${size % MiB === 0 ? `${size / MiB} MiB` : `${(size / MiB).toFixed(1)} MiB`}`).join(", ");
};

const server = await startS3rver({ bucket: "bench" });
try {
  const rows: string[] = [];
  for (const run of runs) {
    const parts: number[] = [];
    const store = new S3Store({
      bucket: server.bucket,
      region: "us-east-1",
      endpoint: server.endpoint,
      forcePathStyle: true,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      // s3rver assembles a completed upload slowly: give CompleteMultipartUpload time.
      requestTimeoutMs: 900_000,
      onPart: (p) => parts.push(p.bytes),
    });
    global.gc?.();
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
    const started = performance.now();
    const key = `bench/${run.gib}gib.bin`;
    const { bytes } = await store.put(key, generated(run.gib * GiB), { expectedBytes: run.estimateGib * GiB || undefined });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    await store.delete(key);
    const line = [
      `${run.gib} GiB, estimate ${run.estimateGib ? `${run.estimateGib} GiB` : "none"}:`,
      `${(bytes / MiB / seconds).toFixed(0)} MiB/s,`,
      `${parts.length} parts (${summary(parts)}),`,
      `peak RSS ${(peak / MiB).toFixed(0)} MiB (baseline ${(baseline / MiB).toFixed(0)} MiB, +${((peak - baseline) / MiB).toFixed(0)} MiB)`,
    ].join(" ");
    console.log(line);
    rows.push(line);
  }
  console.log(`process max RSS over all runs: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  console.log("\npart plan for larger streams (no upload): parts, largest part, memory of 3 parts in flight");
  for (const [label, total, estimate] of [
    ["100 GiB, no estimate", 100 * GiB, 0],
    ["1 TiB, no estimate", 1024 * GiB, 0],
    ["1 TiB, estimate 1 TiB", 1024 * GiB, 1024 * GiB],
    ["5 TiB, no estimate", 5 * 1024 * GiB, 0],
  ] as const) {
    const plan = planParts(total, estimate || undefined);
    const largest = Math.max(...plan);
    console.log(`  ${label}: ${plan.length} parts, largest ${(largest / MiB).toFixed(0)} MiB, about ${((3 * largest) / MiB).toFixed(0)} MiB held`);
  }
} finally {
  await server.stop();
}
