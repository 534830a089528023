import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "SQLGuard", template: "%s · SQLGuard" },
  description: "Backups for MySQL, MariaDB and PostgreSQL",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

/** Root layout shared by every console page. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
