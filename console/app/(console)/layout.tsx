import type { ReactNode } from "react";
import { AppShell } from "@/features/shell/app-shell";

/** Every signed-in page: navigation, user menu, and the page. */
export default function ConsoleLayout({ children }: { children: ReactNode }) {
  return <AppShell>{children}</AppShell>;
}
