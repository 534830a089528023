"use client";

import { useEffect, useState, type KeyboardEvent } from "react";
import { PageHeader } from "@/components/ui/states";
import { useViewer } from "@/features/shell/viewer";
import { AuditPanel } from "./audit-panel";
import { ConfigurationPanel } from "./configuration-panel";
import { EncryptionPanel } from "./encryption-panel";
import { NotificationsPanel } from "./notifications/notifications-panel";
import { SignInPanel } from "./sign-in-panel";
import { TokensPanel } from "./tokens-panel";
import { UsersPanel } from "./users-panel";

type Tab = "tokens" | "sign-in" | "users" | "notifications" | "configuration" | "audit" | "encryption";

/**
 * Settings: API tokens, encryption keys (read-only unless admin) and sign-in for everyone; users,
 * notifications, configuration and the audit log for admins. Tabs follow the ARIA pattern.
 */
export function SettingsPage() {
  const viewer = useViewer();
  const tabs: Array<{ id: Tab; label: string }> = [
    { id: "tokens", label: "API tokens" },
    ...(viewer.canEdit
      ? [
          { id: "users" as const, label: "Users and roles" },
          { id: "notifications" as const, label: "Notifications" },
          { id: "audit" as const, label: "Audit log" },
          { id: "configuration" as const, label: "Configuration" },
        ]
      : []),
    { id: "encryption", label: "Encryption" },
    { id: "sign-in", label: "Sign-in" },
  ];
  // /settings/?tab=sign-in (where a test sign-in comes back to) or ?tab=configuration (the drift
  // banner's link) opens that tab, when the viewer has it.
  const [tab, setTab] = useState<Tab>("tokens");
  const canEdit = viewer.canEdit;
  useEffect(() => {
    const wanted = new URLSearchParams(window.location.search).get("tab");
    if (wanted === "sign-in" || (wanted === "configuration" && canEdit)) setTab(wanted);
  }, [canEdit]);

  function onKey(event: KeyboardEvent<HTMLDivElement>) {
    const index = tabs.findIndex((t) => t.id === tab);
    const delta = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (!delta) return;
    const next = tabs[(index + delta + tabs.length) % tabs.length]!;
    setTab(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  }

  return (
    <>
      <PageHeader title="Settings" />
      <div role="tablist" aria-label="Settings" className="tabs" onKeyDown={onKey}>
        {tabs.map((t) => (
          <button
            key={t.id}
            id={`tab-${t.id}`}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => setTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "tokens" && <TokensPanel />}
        {tab === "sign-in" && <SignInPanel />}
        {tab === "users" && <UsersPanel />}
        {tab === "notifications" && <NotificationsPanel />}
        {tab === "configuration" && <ConfigurationPanel />}
        {tab === "audit" && <AuditPanel />}
        {tab === "encryption" && <EncryptionPanel />}
      </div>
    </>
  );
}
