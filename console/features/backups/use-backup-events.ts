"use client";

import { useEffect, useRef, useState } from "react";
import { subscribeGraphQL } from "@/lib/graphql";
import type { BackupStatus } from "@/lib/types";

export interface BackupEventData {
  type: "CREATED" | "PROGRESS" | "STATUS";
  backupId: number;
  status: BackupStatus | null;
  rawBytes: string | null;
  storedBytes: string | null;
  bytesPerSecond: number | null;
}

const EVENTS = /* GraphQL */ `
  subscription BackupEvents($backupId: Int) {
    backupEvents(backupId: $backupId) {
      type
      backupId
      status
      rawBytes
      storedBytes
      bytesPerSecond
    }
  }
`;

const RETRY_MS = [1_000, 2_000, 5_000, 10_000];

/**
 * Follows `backupEvents` over SSE (all backups, or one) while the component is mounted, and
 * reconnects with backoff when the stream drops. `onOpen` runs each time the stream is (re)opened:
 * refetch there, since events sent before it are lost. Returns whether the stream is open.
 */
export function useBackupEvents(onEvent: (event: BackupEventData) => void, options: { backupId?: number; onOpen?: () => void } = {}): boolean {
  const { backupId } = options;
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const opened = useRef(options.onOpen);
  opened.current = options.onOpen;
  const [live, setLive] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = () => {
      subscribeGraphQL<{ backupEvents: BackupEventData }>(
        EVENTS,
        backupId === undefined ? {} : { backupId },
        (data) => {
          attempt = 0;
          handler.current(data.backupEvents);
        },
        controller.signal,
        () => {
          setLive(true);
          opened.current?.();
        },
      )
        .catch(() => undefined)
        .finally(() => {
          if (controller.signal.aborted) return;
          setLive(false);
          timer = setTimeout(connect, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
        });
    };
    connect();
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [backupId]);

  return live;
}
