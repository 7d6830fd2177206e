/** The admin console's pages (#/admin/<id>): one entry per page, loaded only when opened.
 *
 * `roles` lists who sees the page in the console's navigation; the functions behind each page
 * enforce the same roles server-side (shared/auth.py), so hiding a page is a courtesy, not a guard.
 */
import type { Component } from "vue";
import { defineAsyncComponent } from "vue";

export interface AdminPage {
  id: string;
  title: string;
  roles: readonly string[];
  component: Component;
}

export const ADMINS = ["owner", "admin"] as const;
export const STAFF = ["owner", "admin", "agent"] as const;

export const ADMIN_PAGES: AdminPage[] = [
  {
    id: "audit",
    title: "Audit log",
    roles: ADMINS,
    component: defineAsyncComponent(() => import("./AuditLogPage.vue")),
  },
  {
    id: "operations",
    title: "Operations",
    roles: ADMINS,
    component: defineAsyncComponent(() => import("./OperationsPage.vue")),
  },
  {
    id: "settings",
    title: "Settings",
    roles: ADMINS,
    component: defineAsyncComponent(() => import("./SettingsPage.vue")),
  },
];

/** The pages `role` may open, in navigation order. */
export function pagesFor(role: string | null): AdminPage[] {
  return ADMIN_PAGES.filter((page) => role !== null && page.roles.includes(role));
}

/** The page a `#/admin/<id>` hash names, if `role` may open it; else the first page it may. */
export function pageAt(hash: string, role: string | null): AdminPage | null {
  const allowed = pagesFor(role);
  const id = /^#\/admin\/([a-z-]+)/.exec(hash)?.[1];
  return allowed.find((page) => page.id === id) ?? allowed[0] ?? null;
}
