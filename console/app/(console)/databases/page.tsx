import type { Metadata } from "next";
import { DatabasesPage } from "@/features/databases/databases-page";

export const metadata: Metadata = { title: "Databases" };

export default function Page() {
  return <DatabasesPage />;
}
