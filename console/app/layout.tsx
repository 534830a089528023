import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import { GraphQLProvider } from "@/lib/graphql-provider";
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
      <body>
        <GraphQLProvider>{children}</GraphQLProvider>
      </body>
    </html>
  );
}
