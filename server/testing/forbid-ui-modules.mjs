// Preloaded into `worker` processes by server/scale/worker-pool.test.ts (NODE_OPTIONS=--import):
// resolving GraphQL, yoga, Pothos, Next.js or React fails the process, so a worker that starts and
// answers /readyz has not loaded them.
import { register } from "node:module";

register(new URL("./forbid-ui-hooks.mjs", import.meta.url));
