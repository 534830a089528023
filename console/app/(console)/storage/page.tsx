import type { Metadata } from "next";
import { StoragePage } from "@/features/storage/storage-page";

export const metadata: Metadata = { title: "Storage" };

export default function Page() {
  return <StoragePage />;
}
