/** Workspace settings (tenants/{t}.settings; shared/workspace.py validates and saves them through
 * agent_api `workspace_settings`, admins only) and the reply-window reminder the inbox shows. */
import type { Conversation } from "./types";

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Day = (typeof DAYS)[number];
export const DAY_NAMES: Record<Day, string> = {
  mon: "Monday",
  tue: "Tuesday",
  wed: "Wednesday",
  thu: "Thursday",
  fri: "Friday",
  sat: "Saturday",
  sun: "Sunday",
};

export type HourRange = [string, string];

export interface WorkspaceSettings {
  name: string;
  timeZone: string;
  businessHours?: Partial<Record<Day, HourRange[]>>;
  autoReply: { enabled: boolean; text: string };
  replyWindowReminderMinutes?: number;
  retentionDays?: number;
  /** The satisfaction survey sent when a conversation is resolved (shared/csat.py). */
  csat: { enabled: boolean; question: string };
}

/** The survey's question when the workspace set none (shared/workspace.py DEFAULT_CSAT_QUESTION). */
export const DEFAULT_CSAT_QUESTION = "How would you rate our help today?";

const HOUR = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

function minutes(value: string): number {
  const [h, m] = value.split(":").map(Number);
  return h * 60 + m;
}

/** The first problem with a day's ranges (the server checks the same), or null. */
export function rangeProblem(ranges: HourRange[]): string | null {
  const sorted = [...ranges].sort((a, b) => a[0].localeCompare(b[0]));
  let previousEnd = -1;
  for (const [start, end] of sorted) {
    if (!HOUR.test(start) || !HOUR.test(end) || start === "24:00") return `${start}–${end} is not a time range`;
    if (minutes(start) >= minutes(end)) return `${start}–${end} ends before it starts (hours past midnight are two ranges: ${start}–24:00, then 00:00–${end} the next day)`;
    if (minutes(start) < previousEnd) return "the ranges overlap";
    previousEnd = minutes(end);
  }
  return null;
}

/** Whether the browser knows `zone` as an IANA time zone (the server decides for good). */
export function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

/** Settings as the form edits them, from what the server answered (defaults filled in). */
export function editable(settings: Partial<WorkspaceSettings>, fallbackName: string): WorkspaceSettings {
  return {
    name: settings.name ?? fallbackName,
    timeZone: settings.timeZone ?? "UTC",
    businessHours: settings.businessHours
      ? Object.fromEntries(DAYS.map((day) => [day, (settings.businessHours?.[day] ?? []).map((r) => [r[0], r[1]] as HourRange)]))
      : undefined,
    autoReply: { enabled: settings.autoReply?.enabled ?? false, text: settings.autoReply?.text ?? "" },
    replyWindowReminderMinutes: settings.replyWindowReminderMinutes,
    retentionDays: settings.retentionDays,
    csat: { enabled: settings.csat?.enabled ?? false, question: settings.csat?.question || DEFAULT_CSAT_QUESTION },
  };
}

/** What the form saves: empty days dropped, optional numbers left out when unset. */
export function toSave(form: WorkspaceSettings): WorkspaceSettings {
  const out: WorkspaceSettings = {
    name: form.name.trim(),
    timeZone: form.timeZone.trim(),
    autoReply: { ...form.autoReply },
    csat: { enabled: form.csat.enabled, question: form.csat.question.trim() || DEFAULT_CSAT_QUESTION },
  };
  if (form.businessHours) {
    out.businessHours = Object.fromEntries(
      DAYS.filter((day) => (form.businessHours?.[day] ?? []).length).map((day) => [day, form.businessHours?.[day] ?? []]),
    );
  }
  if (form.replyWindowReminderMinutes) out.replyWindowReminderMinutes = Number(form.replyWindowReminderMinutes);
  if (form.retentionDays) out.retentionDays = Number(form.retentionDays);
  return out;
}

/** The reminder minutes from the tenant document's `settings` map (the listener's view). */
export function reminderMinutes(settings: unknown): number | null {
  const value = (settings as { replyWindowReminderMinutes?: unknown } | undefined)?.replyWindowReminderMinutes;
  return typeof value === "number" && value > 0 ? value : null;
}

/** Milliseconds left in the conversation's free-form reply window when it closes within the
 * workspace's reminder, else null (no reminder set, no window, already closed, far off, or the
 * conversation is resolved). */
export function reminderDue(conversation: Conversation, reminder: number | null, nowMs: number): number | null {
  const expires = conversation.replyWindow?.expiresAtMs ?? 0;
  if (!reminder || !expires || nowMs >= expires) return null;
  if (conversation.status === "resolved") return null;
  const left = expires - nowMs;
  return left <= reminder * 60_000 ? left : null;
}
