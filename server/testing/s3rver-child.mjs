// Child entry for startS3rver (server/testing/s3rver.ts). Run as
//   node --openssl-legacy-provider s3rver-child.mjs <directory> <bucket>
// (without the legacy provider, ListObjectsV2 paging fails with a 500). Listens on 127.0.0.1 on a
// free port, prints one line `LISTENING <port>` on stdout, and exits when stdin closes so that it
// never outlives the test process that started it.
import S3rver from "s3rver";

// An optional third argument: the port to listen on (a restart after a simulated outage).
const [directory, bucket, port] = process.argv.slice(2);
if (!directory || !bucket) {
  console.error("usage: s3rver-child.mjs <directory> <bucket>");
  process.exit(2);
}

const server = new S3rver({
  address: "127.0.0.1",
  port: port ? Number(port) : 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});

try {
  const address = await server.run();
  process.stdout.write(`LISTENING ${address.port}\n`);
} catch (error) {
  console.error(error);
  process.exit(1);
}

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
