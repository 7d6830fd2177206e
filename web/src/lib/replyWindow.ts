/** How the business may reply right now, from the conversation's `replyWindow` (written by ingest
 * from the provider's timestamp of the customer's last message). The server checks the same rule
 * before queuing anything (shared/outbox.py); this decides what the composer offers.
 *
 * - WhatsApp: free-form for 24 h after the customer's last message, then approved templates only.
 * - Messenger / Instagram: 24 h free-form, then up to 7 days with the HUMAN_AGENT tag, then nothing.
 */
import type { Conversation } from "./types";

export type ReplyMode =
  | { kind: "open"; leftMs: number | null }
  | { kind: "template" }
  | { kind: "tag"; leftMs: number }
  | { kind: "closed" };

export function replyMode(conversation: Conversation, nowMs: number): ReplyMode {
  const window = conversation.replyWindow;
  if (!window || !window.needs) {
    return { kind: "open", leftMs: window?.expiresAtMs ? Math.max(0, window.expiresAtMs - nowMs) : null };
  }
  if (nowMs < window.expiresAtMs) return { kind: "open", leftMs: window.expiresAtMs - nowMs };
  if (window.needs === "template") return { kind: "template" };
  if (nowMs < window.tagExpiresAtMs) return { kind: "tag", leftMs: window.tagExpiresAtMs - nowMs };
  return { kind: "closed" };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Time left in a reply window, never jumping: minutes under an hour ("42m"), hours and minutes
 * under 48 hours ("23h 59m", "24h 0m", "47h 59m"), then days and hours ("2d 0h", "6d 23h"). Every
 * step down is one unit of the same format, so the label only ever counts down (the old one went
 * from "1d" to "23h 59m"). Rounded down: it never promises time that is not left. */
export function windowLeft(ms: number): string {
  if (ms < MINUTE) return "<1m";
  const totalMinutes = Math.floor(ms / MINUTE);
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  if (ms < HOUR) return `${minutes}m`;
  if (ms < 48 * HOUR) return `${hours}h ${minutes}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}
