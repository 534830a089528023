"use client";

import { useEffect, useState } from "react";
import { messageOf, request } from "@/lib/graphql";
import { formatDateTime } from "@/lib/format";
import type { ResultOf } from "@/lib/graphql-tada";
import { CRON_PREVIEW } from "./queries";

type Preview = ResultOf<typeof CRON_PREVIEW>["cronPreview"];

/** The next five runs of `expression` in `timezone`, asked of the server as you type (debounced). */
export function CronPreview({ id, expression, timezone }: { id: string; expression: string; timezone: string }) {
  const [preview, setPreview] = useState<Preview>();
  const [failure, setFailure] = useState<string>();

  useEffect(() => {
    if (!expression.trim()) {
      setPreview(undefined);
      return;
    }
    let cancelled = false;
    const timer = setTimeout(() => {
      request(CRON_PREVIEW, { expression, timezone: timezone || "UTC" }).then(
        ({ cronPreview }) => {
          if (cancelled) return;
          setPreview(cronPreview);
          setFailure(undefined);
        },
        (e: unknown) => !cancelled && setFailure(messageOf(e)),
      );
    }, 200);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [expression, timezone]);

  return (
    <div id={id} className="cron-preview" aria-live="polite">
      {failure ? (
        <p className="field-error">{failure}</p>
      ) : !preview ? (
        <p className="hint">Enter five fields (minute hour day month weekday), e.g. 0 2 * * *.</p>
      ) : !preview.valid ? (
        <p className="field-error" role="alert">
          Invalid cron expression: {preview.error}
        </p>
      ) : (
        <>
          <p className="hint">Next runs ({timezone || "UTC"}):</p>
          <ol aria-label="Next runs" className="small">
            {preview.nextRuns.map((r) => (
              <li key={r}>
                <time dateTime={r}>{formatDateTime(r, timezone || "UTC")}</time>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
