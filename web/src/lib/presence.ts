/** Presence as the team sees it (the same rule as shared/routing.py's presence_of): the state an
 * agent chose, or offline once their heartbeat is older than PRESENCE_STALE_MS. No server process
 * marks anyone offline; every reader compares `lastSeenMs` with its own clock. */
export type PresenceState = "online" | "away" | "offline";

export const HEARTBEAT_MS = 30_000;
export const PRESENCE_STALE_MS = 90_000;

export interface PresenceField {
  state?: string;
  lastSeenMs?: number;
}

export function presenceOf(presence: PresenceField | null | undefined, nowMs: number = Date.now()): PresenceState {
  const state = presence?.state;
  const seen = presence?.lastSeenMs;
  if ((state !== "online" && state !== "away") || typeof seen !== "number") return "offline";
  return nowMs - seen > PRESENCE_STALE_MS ? "offline" : state;
}

export const PRESENCE_LABEL: Record<PresenceState, string> = { online: "Online", away: "Away", offline: "Offline" };
