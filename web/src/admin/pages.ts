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

function page(id: string, title: string, roles: readonly string[], load: () => Promise<{ default: Component }>): AdminPage {
  return { id, title, roles, component: defineAsyncComponent(load) };
}

// One line a page, in navigation order (the audit log last).
export const ADMIN_PAGES: AdminPage[] = [
  page("team", "Team", ADMINS, () => import("./TeamPage.vue")),
  page("channels", "Channels", ADMINS, () => import("./ChannelsPage.vue")),
  page("contact-attributes", "Contact attributes", ADMINS, () => import("./ContactAttributesPage.vue")),
  page("exports", "Exports & data", ADMINS, () => import("./ExportsPage.vue")),
  page("routing", "Teams & routing", ADMINS, () => import("./RoutingPage.vue")),
  page("reports", "Reports", ADMINS, () => import("./ReportsPage.vue")),
  page("operations", "Operations", ADMINS, () => import("./OperationsPage.vue")),
  page("settings", "Settings", ADMINS, () => import("./SettingsPage.vue")),
  page("audit", "Audit log", ADMINS, () => import("./AuditLogPage.vue")),
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
