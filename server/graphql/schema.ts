/** Assembles the GraphQL schema: imports every type file, then builds. Nothing else. */
import { builder } from "./builder.ts";
import "./types/scalars.ts";
import "./types/enums.ts";
import "./types/session.ts";
import "./types/user.ts";
import "./types/api-token.ts";
import "./types/server.ts";
import "./types/dump-options.ts";
import "./types/storage-target.ts";
import "./types/schedule.ts";
import "./types/retention-rule.ts";
import "./types/audit-log.ts";
import "./types/backup.ts";
import "./types/backup-event.ts";
import "./types/dashboard.ts";
import "./types/connection-test.ts";
import "./types/schedule-run.ts";
import "./types/retention.ts";
import "./types/backup-health.ts";
import "./types/restore.ts";
import "./types/verification.ts";
import "./types/drill.ts";
import "./types/webhook.ts";
import "./types/notification-channel.ts";
import "./types/notification-rule.ts";

export const schema = builder.toSchema({ sortSchema: true });
