import type { Metadata } from "next";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "SQLGuard", template: "%s · SQLGuard" },
  description: "Backups for MySQL, MariaDB and PostgreSQL",
};

/** Root layout shared by every console page. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <main className="shell">{children}</main>
      </body>
    </html>
  );
}
