"use client";

import { createContext, useContext } from "react";
import type { Role } from "@/lib/types";
import type { Viewer } from "./queries";

export interface ViewerInfo extends Viewer {
  /** ADMIN: changes configuration, users. */
  canEdit: boolean;
  /** OPERATOR or ADMIN: runs, cancels and downloads backups. */
  canOperate: boolean;
}

const ViewerContext = createContext<ViewerInfo | null>(null);

export const ViewerProvider = ViewerContext.Provider;

/** Derives the permission flags the UI shows or hides buttons by. The API enforces them anyway. */
export function viewerInfo(viewer: Viewer): ViewerInfo {
  const rank: Record<Role, number> = { VIEWER: 0, OPERATOR: 1, ADMIN: 2 };
  return { ...viewer, canEdit: rank[viewer.role] >= 2, canOperate: rank[viewer.role] >= 1 };
}

/** The signed-in user; only valid inside the console shell. */
export function useViewer(): ViewerInfo {
  const viewer = useContext(ViewerContext);
  if (!viewer) throw new Error("useViewer outside the console shell");
  return viewer;
}
