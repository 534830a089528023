"use client";

import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useEffect, useState, type ReactNode } from "react";
import { request } from "@/lib/graphql";
import { useQuery } from "@/lib/use-query";
import { ConfirmProvider } from "@/components/ui/confirm-dialog";
import { Loading, ErrorMessage } from "@/components/ui/states";
import { LOGOUT, ME } from "./queries";
import { ViewerProvider, viewerInfo } from "./viewer";

const NAV = [
  { href: "/", label: "Dashboard" },
  { href: "/databases/", label: "Databases" },
  { href: "/backups/", label: "Backups" },
  { href: "/servers/", label: "Servers" },
  { href: "/schedules/", label: "Schedules" },
  { href: "/storage/", label: "Storage" },
  { href: "/settings/", label: "Settings" },
];

function isCurrent(pathname: string, href: string): boolean {
  return href === "/" ? pathname === "/" : pathname.startsWith(href);
}

/**
 * The console frame: reads `me` (sending anonymous visitors to the login page), then renders the
 * navigation, the user menu and the page. Pages mount only once the viewer is known.
 */
export function AppShell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  const router = useRouter();
  const { data, error } = useQuery(ME);
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    if (error?.code === "UNAUTHENTICATED") {
      const next = window.location.pathname + window.location.search;
      router.replace(`/login/?next=${encodeURIComponent(next)}`);
    }
  }, [error, router]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the menu closes whenever the page changes.
  useEffect(() => setMenuOpen(false), [pathname]);

  async function logout() {
    try {
      await request(LOGOUT);
    } finally {
      router.replace("/login/");
    }
  }

  if (!data) {
    return <div className="boot">{error && error.code !== "UNAUTHENTICATED" ? <ErrorMessage error={error} /> : <Loading what="Loading SQLGuard" />}</div>;
  }

  const viewer = viewerInfo(data.me);
  return (
    <ViewerProvider value={viewer}>
      <ConfirmProvider>
        <a className="skip-link" href="#content">
          Skip to content
        </a>
        <div className="layout">
          <header className="topbar">
            <Link href="/" className="brand">
              SQLGuard
            </Link>
            <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen((o) => !o)}>
              Menu
            </button>
            <nav id="main-nav" aria-label="Main" className={menuOpen ? "nav open" : "nav"}>
              <ul>
                {NAV.map((item) => (
                  <li key={item.href}>
                    <Link href={item.href} aria-current={isCurrent(pathname, item.href) ? "page" : undefined}>
                      {item.label}
                    </Link>
                  </li>
                ))}
              </ul>
              <div className="user">
                <span>
                  <span className="username">{viewer.username}</span> <span className="role">{viewer.role}</span>
                </span>
                <button type="button" className="link-button" onClick={logout}>
                  Sign out
                </button>
              </div>
            </nav>
          </header>
          <main id="content" className="content" tabIndex={-1}>
            {children}
          </main>
        </div>
      </ConfirmProvider>
    </ViewerProvider>
  );
}
