#!/usr/bin/env node
// The `sqlguard` command (package.json "bin"): runs server/cli/main.ts through tsx, registered
// programmatically so that no loader flag is needed (`npx sqlguard restore …`).
import { register } from "tsx/esm/api";

register();
await import("../server/cli/main.ts");
