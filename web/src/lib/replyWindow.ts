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
