import type { Metadata } from "next";
import { Suspense } from "react";
import { BackupsPage } from "@/features/backups/backups-page";

export const metadata: Metadata = { title: "Backups" };

export default function Page() {
  return (
    <Suspense>
      <BackupsPage />
    </Suspense>
  );
}
