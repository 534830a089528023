import { DashboardPage } from "@/features/dashboard/dashboard-page";

/** `/`: the dashboard. */
export default function Page() {
  return <DashboardPage />;
}
