/** The operations page's data (agent_api `operations` and friends, shared/operations/console.py):
 * quarantined items and dead letters of the admin's workspace, their raw payloads masked by the
 * server until revealed, and the monitoring alerts whose condition holds. */

export interface QuarantinedRow {
  id: string;
  channel: string;
  reason: string;
  error: string;
  routeKey: string | null;
  receivedAtMs: number;
  /** The raw item, personal data masked ("•••") unless revealed. */
  raw: unknown;
}

export interface DeadLetterRow {
  messageId: string;
  eventId: string | null;
  eventType: string | null;
  channel: string | null;
  routeKey: string | null;
  publishTimeMs: number | null;
  deliveryAttempt: number | null;
  bytes: number;
  raw: unknown;
}

export interface OperationsAlert {
  policy: string;
  title: string;
  severity: "ERROR" | "WARNING";
  message: string;
  subject?: string;
}

export interface OperationsOverview {
  quarantine: { items: QuarantinedRow[]; count: number; oldestAgeSeconds: number | null };
  deadLetters: { items: DeadLetterRow[]; count: number; oldestAgeSeconds: number | null; error: string | null };
  alerts: OperationsAlert[];
  /** Alert policies that read request metrics only Cloud Monitoring has. */
  notEvaluated: { policy: string; title: string }[];
  atMs: number;
}

export interface ReplayRow {
  id: string;
  reason: string;
  outcome: string;
  events: number;
}

/** "42s", "5m", "3h 20m", "2d 4h": how old the oldest item is. */
export function age(seconds: number | null): string {
  if (seconds === null) return "–";
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** A raw payload, pretty-printed (2 spaces) for the page. */
export function pretty(raw: unknown): string {
  return typeof raw === "string" ? raw : JSON.stringify(raw, null, 2);
}

/** What a replay's outcome word means, for a person. */
export function outcomeText(outcome: string): string {
  const words: Record<string, string> = {
    published: "Replayed: published again for ingest",
    "still-unrouted": "Still no channel for this account: connect it first",
    "still-failing": "Still does not parse",
    "still-foreign": "Still signed by another account than the channel's",
    "not-replayable": "Too large to ever be stored: discard it",
  };
  return words[outcome] ?? `Not replayed (${outcome})`;
}
