/** The staff roles as the team page offers them (shared/auth.py enforces them server-side). */
import type { StaffRole } from "../lib/api";

export const ROLE_HELP: Record<StaffRole, string> = {
  owner: "Owners run the workspace and are the only ones who can make or remove owners.",
  admin: "Admins run the workspace: the team, channels, settings and the audit log.",
  agent: "Agents answer conversations in the inbox.",
  developer: "Developers build the app: its keys and the chat API, not the inbox.",
};

/** The roles `callerRole` may grant in a workspace of `tenantKind`: owners grant every role, admins
 * all but owner; developer exists only in an app's workspace (kind "app"). */
export function roleChoices(callerRole: string | null, tenantKind: string): StaffRole[] {
  const roles: StaffRole[] = callerRole === "owner" ? ["agent", "admin", "owner"] : ["agent", "admin"];
  return tenantKind === "app" ? [...roles, "developer"] : roles;
}

/** The `actor` an audit log address names (#/admin/audit?actor=<uid>), if any. */
export function actorIn(hash: string): string | null {
  const query = hash.split("?")[1] ?? "";
  const actor = new URLSearchParams(query).get("actor");
  return actor ? actor : null;
}
