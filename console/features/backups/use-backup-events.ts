"use client";

import { useEffect, useRef, useState } from "react";
import { client } from "@/lib/graphql";
import { graphql, type ResultOf } from "@/lib/graphql-tada";

const EVENTS = graphql(`
  subscription BackupEvents($backupId: ID) {
    backupEvents(backupId: $backupId) {
      type
      backupId
      status
      rawBytes
      storedBytes
      bytesPerSecond
    }
  }
`);

export type BackupEventData = ResultOf<typeof EVENTS>["backupEvents"];

const RETRY_MS = [1_000, 2_000, 5_000, 10_000];

/**
 * Follows `backupEvents` over SSE (all backups, or one) while the component is mounted, and
 * reconnects with backoff when the stream drops. `onOpen` runs each time the stream is (re)opened:
 * refetch there, since events sent before it are lost. `skip` follows nothing (a page without a valid id).
 * Returns whether the stream is open.
 */
export function useBackupEvents(onEvent: (event: BackupEventData) => void, options: { backupId?: string; skip?: boolean; onOpen?: () => void } = {}): boolean {
  const { backupId, skip } = options;
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const opened = useRef(options.onOpen);
  opened.current = options.onOpen;
  const [live, setLive] = useState(false);

  useEffect(() => {
    if (skip) return;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let subscription: { unsubscribe: () => void } | undefined;

    // The server accepted the stream once its response headers arrive; urql reports no such moment,
    // so this operation's fetch is wrapped to notice it.
    const fetchNoticingOpen: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.ok && !stopped) {
        setLive(true);
        opened.current?.();
      }
      return response;
    };

    const reconnect = () => {
      subscription?.unsubscribe();
      subscription = undefined;
      if (stopped) return;
      setLive(false);
      timer = setTimeout(connect, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
    };

    const connect = () => {
      const variables = backupId === undefined ? {} : { backupId };
      subscription = client.subscription(EVENTS, variables, { fetch: fetchNoticingOpen }).subscribe((result) => {
        // The stream ended (hasNext false), failed, or sent an error: start over after a pause.
        if (result.error || result.hasNext === false) return void queueMicrotask(reconnect);
        if (!result.data) return;
        attempt = 0;
        handler.current(result.data.backupEvents);
      });
    };
    connect();
    return () => {
      stopped = true;
      subscription?.unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [backupId, skip]);

  return live;
}
