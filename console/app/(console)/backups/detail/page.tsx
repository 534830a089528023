import type { Metadata } from "next";
import { Suspense } from "react";
import { BackupDetailPage } from "@/features/backups/backup-detail-page";

export const metadata: Metadata = { title: "Backup" };

/** `/backups/detail/?id=7`: the export is static, so the id travels in the query string. */
export default function Page() {
  return (
    <Suspense>
      <BackupDetailPage />
    </Suspense>
  );
}
