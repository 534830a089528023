"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { useQuery } from "@/lib/use-query";
import { ErrorMessage, Loading, PageHeader } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { RetentionEditor } from "./retention-editor";
import { SCHEDULE, SCHEDULE_OPTIONS } from "./queries";
import { ScheduleForm } from "./schedule-form";

/** `/schedules/edit/` (new) or `/schedules/edit/?id=3`: the schedule form and its retention rules per target. */
export function ScheduleEditPage() {
  const params = useSearchParams();
  const router = useRouter();
  const raw = params.get("id");
  const id = raw && /^\d+$/.test(raw) ? raw : undefined;
  const viewer = useViewer();
  const options = useQuery(SCHEDULE_OPTIONS);
  const schedule = useQuery(SCHEDULE, { id: id ?? "" }, { skip: id === undefined });
  const [notice, setNotice] = useState<string>();
  const [problem, setProblem] = useState<string>();

  if (!options.data || (id !== undefined && !schedule.data)) {
    const error = options.error ?? schedule.error;
    return <>{error ? <ErrorMessage error={error} /> : <Loading what="Loading the schedule" />}</>;
  }
  const s = schedule.data?.schedule;
  const rules = s?.retentionRules ?? [];
  // Targets with a rule, then the schedule's targets (or the defaults when it names none).
  const chosen = s?.storageTargets.length ? s.storageTargets : options.data.storageTargets.filter((t) => t.isDefault);
  const targets = [...rules.map((r) => r.storageTarget), ...chosen.filter((t) => !rules.some((r) => r.storageTargetId === t.id))];

  return (
    <>
      <p className="small">
        <Link href="/schedules/">← Schedules</Link>
      </p>
      <PageHeader title={s ? `Schedule ${s.name}` : "New schedule"} />
      {notice && (
        <p role="status" className="ok-box">
          {notice}
        </p>
      )}
      <ErrorMessage error={problem} />
      <ScheduleForm
        key={s?.id ?? "new"}
        schedule={s}
        servers={options.data.servers}
        targets={options.data.storageTargets}
        readOnly={!viewer.canEdit}
        onSaved={(saved, partial) => {
          setNotice(`Saved schedule ${saved.name}.`);
          setProblem(partial);
          if (id === undefined) router.replace(`/schedules/edit/?id=${saved.id}`);
          else schedule.refetch();
        }}
      />
      {s && (
        <section aria-labelledby="retention-heading">
          <h2 id="retention-heading">Retention per target</h2>
          {targets.map((t) => (
            <RetentionEditor
              key={`${t.id}-${rules.find((r) => r.storageTargetId === t.id)?.id ?? "none"}`}
              scheduleId={s.id}
              target={t}
              rule={rules.find((r) => r.storageTargetId === t.id)}
              canEdit={viewer.canEdit}
              onChanged={schedule.refetch}
            />
          ))}
        </section>
      )}
    </>
  );
}
