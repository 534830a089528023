import type { Metadata } from "next";
import { Suspense } from "react";
import { ScheduleEditPage } from "@/features/schedules/schedule-edit-page";

export const metadata: Metadata = { title: "Schedule" };

/** `/schedules/edit/?id=3` (static export: the id travels in the query string). */
export default function Page() {
  return (
    <Suspense>
      <ScheduleEditPage />
    </Suspense>
  );
}
