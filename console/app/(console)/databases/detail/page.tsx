import type { Metadata } from "next";
import { Suspense } from "react";
import { DatabaseDetailPage } from "@/features/databases/database-detail-page";

export const metadata: Metadata = { title: "Database" };

/** `/databases/detail/?server=prod&database=shop`: the export is static, so both names travel in the query string. */
export default function Page() {
  return (
    <Suspense>
      <DatabaseDetailPage />
    </Suspense>
  );
}
