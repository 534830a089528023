import { Suspense } from "react";
import { DashboardPage } from "@/features/dashboard/dashboard-page";

/** `/`: the dashboard (`?label=key=value` filters its databases by server label). */
export default function Page() {
  return (
    <Suspense>
      <DashboardPage />
    </Suspense>
  );
}
