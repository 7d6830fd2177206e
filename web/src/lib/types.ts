/** What the dashboard reads from Firestore (see DESIGN.md, "Firestore model"), as plain objects:
 * timestamps become epoch milliseconds at the boundary, so components never see SDK types. */
import type { DocumentData, QueryDocumentSnapshot, DocumentSnapshot } from "firebase/firestore";

export type ChannelKind = "messenger" | "instagram" | "whatsapp" | "telegram" | "twilio" | "app";
export const CHANNEL_KINDS: ChannelKind[] = ["whatsapp", "messenger", "instagram", "telegram", "twilio"];
export const CHANNEL_LABELS: Record<string, string> = {
  messenger: "Messenger",
  instagram: "Instagram",
  whatsapp: "WhatsApp",
  telegram: "Telegram",
  twilio: "SMS",
  app: "In-app chat",
};

/** The longest text one message may carry on each channel, in characters (Unicode code points):
 * the providers' own limits, as `capabilities.max_text_length` in shared/channels/ declares them
 * (tests/unit/test_text_limits.py holds the two together). send_message refuses longer replies with
 * `text_too_long`; the composer counts against this before sending. */
export const TEXT_LIMITS: Record<ChannelKind, number> = {
  messenger: 2000,
  instagram: 1000,
  whatsapp: 4096,
  telegram: 4096,
  twilio: 1600,
  app: 4096,
};
/** A private note's limit (notes never reach a provider). */
export const NOTE_LIMIT = 4096;

/** Characters as the server counts them (code points: an emoji is one, not two UTF-16 units). */
export function textLength(text: string): number {
  return Array.from(text).length;
}

export type ConversationStatus = "open" | "pending" | "snoozed" | "resolved";
export const CONVERSATION_STATUSES: ConversationStatus[] = ["open", "pending", "snoozed", "resolved"];

export type Direction = "in" | "out" | "note" | "system";
export type DeliveryStatus = "pending" | "queued" | "sent" | "delivered" | "read" | "failed";

export interface ReplyWindow {
  expiresAtMs: number;
  tagExpiresAtMs: number;
  needs: "template" | "tag" | null;
}

export interface LastMessage {
  id?: string;
  type?: string;
  text?: string | null;
  direction?: Direction;
  atMs: number | null;
}

export interface Conversation {
  id: string;
  channel: ChannelKind;
  channelId: string;
  contactId: string;
  contactExternalId: string;
  contactName: string;
  /** The customer's picture from the provider's profile API (Messenger, Instagram), if any. */
  contactPictureUrl?: string | null;
  status: ConversationStatus;
  assigneeId: string | null;
  lastMessage: LastMessage | null;
  lastActivityAtMs: number;
  lastInboundAtMs: number | null;
  replyWindow: ReplyWindow | null;
  unreadCount: number;
  messageCount: number;
  snoozeUntilMs: number | null;
  /** Label ids (tenants/{t}/labels); ids of deleted labels may linger and are not shown. */
  labels: string[];
  /** The customer's latest rating of the latest satisfaction survey (shared/csat.py), if any. */
  csat?: ConversationRating | null;
}

export interface ConversationRating {
  score: number;
  comment: string;
  ratedAtMs: number;
}

/** A tenant's label (tenants/{t}/labels/{id}): managed by admins through agent_api. */
export interface Label {
  id: string;
  name: string;
  color: string;
}

/** What an activity line records (a message with direction "system", type "activity"). */
export interface Activity {
  verb: "resolve" | "reopen" | "pend" | "snooze" | "assign" | "unassign" | "labels" | string;
  actorId: string;
  actorName: string;
  untilMs?: number;
  assigneeId?: string;
  assigneeName?: string;
  previousAssigneeName?: string | null;
  added?: Array<{ id: string; name: string }>;
  removed?: Array<{ id: string; name: string }>;
  /** rate: the customer's score (1-5), comment, and the rating it replaces. */
  score?: number;
  comment?: string;
  source?: "buttons" | "page";
  replaces?: { score: number; atMs: number } | null;
}

export interface Attachment {
  url?: string;
  media_id?: string;
  mime_type?: string;
  filename?: string;
  caption?: string;
}

export interface MessageError {
  code?: string | number;
  reason?: string;
  title?: string;
  detail?: string;
}

export interface Message {
  id: string;
  direction: Direction;
  type: string;
  /** The per-type payload as ingest or send_message stored it. */
  content: Record<string, any>;
  text: string | null;
  sender: { kind?: string; id?: string | null; name?: string | null };
  status: DeliveryStatus | "received" | "note" | string;
  error: MessageError | null;
  reactions: { customer?: string; business?: string };
  edited: boolean;
  deleted: boolean;
  sentAtMs: number;
  replyTo: string | null;
  providerMessageId: string | null;
  clientMessageId: string | null;
  tag: string | null;
  /** Activity lines only (direction "system", type "activity"). */
  activity: Activity | null;
}

/** A message the agent sent that the server has not written yet (or refused). */
export interface PendingMessage {
  clientMessageId: string;
  conversationId: string;
  message: OutgoingMessage;
  useHumanAgentTag: boolean;
  createdAtMs: number;
  error: { code: string; message: string } | null;
  sending: boolean;
}

/** A file the agent uploaded through `uploadUrl`, as send_message takes it (only `path` is
 * trusted: the server checks it, sniffs the type and applies the provider's limits). */
export interface OutgoingAttachment {
  path: string;
  fileName: string;
  contentType: string;
  size: number;
}

export interface OutgoingMessage {
  type: "text" | "image" | "audio" | "video" | "document" | "template" | "reaction" | "note";
  text?: string;
  mediaUrl?: string;
  attachments?: OutgoingAttachment[];
  caption?: string;
  filename?: string;
  templateName?: string;
  templateLanguage?: string;
  templateParameters?: string[];
  emoji?: string;
  replyTo?: string;
}

export interface Agent {
  id: string;
  name: string;
  email: string;
  role: string;
  /** False once deactivated on the team page (they keep their name on old messages, but cannot be assigned). */
  active?: boolean;
  /** The heartbeat (shared/routing.py): read with lib/presence.ts's presenceOf. */
  presence?: { state?: string; lastSeenMs?: number };
}

export interface Channel {
  id: string;
  kind: ChannelKind;
  name: string;
  health: Record<string, any>;
}

/** Epoch ms from a Firestore Timestamp, a Date, a number or an ISO string (null if none). */
export function millis(value: unknown): number | null {
  if (value == null) return null;
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? null : parsed;
  }
  if (value instanceof Date) return value.getTime();
  if (typeof (value as { toMillis?: unknown }).toMillis === "function") {
    return (value as { toMillis(): number }).toMillis();
  }
  return null;
}

const str = (value: unknown): string => (value == null ? "" : String(value));

export function toConversation(snapshot: QueryDocumentSnapshot | DocumentSnapshot): Conversation {
  const d: DocumentData = snapshot.data() ?? {};
  const window = d.replyWindow as DocumentData | undefined;
  const last = d.lastMessage as DocumentData | undefined;
  return {
    id: snapshot.id,
    channel: (d.channel ?? "app") as ChannelKind,
    channelId: str(d.channelId),
    contactId: str(d.contactId),
    contactExternalId: str(d.contactExternalId),
    contactName: str(d.contactName) || str(d.contactExternalId) || "Unknown contact",
    contactPictureUrl: typeof d.contactPictureUrl === "string" && d.contactPictureUrl ? d.contactPictureUrl : null,
    status: (d.status ?? "open") as ConversationStatus,
    assigneeId: d.assigneeId ?? null,
    lastMessage: last
      ? { id: last.id, type: last.type, text: last.text ?? null, direction: last.direction, atMs: millis(last.at) }
      : null,
    lastActivityAtMs: Number(d.lastActivityAtMs ?? millis(d.lastActivityAt) ?? 0),
    lastInboundAtMs: millis(d.lastInboundAtMs ?? d.lastInboundAt),
    replyWindow: window
      ? {
          expiresAtMs: Number(window.expiresAtMs ?? 0),
          tagExpiresAtMs: Number(window.tagExpiresAtMs ?? 0),
          needs: window.needs ?? null,
        }
      : null,
    unreadCount: Number(d.unreadCount ?? 0),
    messageCount: Number(d.messageCount ?? 0),
    snoozeUntilMs: d.snoozeUntilMs ?? null,
    labels: Array.isArray(d.labels) ? d.labels.filter((label: unknown) => typeof label === "string") : [],
    csat: toRating(d.csat),
  };
}

/** The conversation's `csat` map, when it holds a score 1-5. */
export function toRating(value: unknown): ConversationRating | null {
  const d = value as DocumentData | undefined;
  const score = Number(d?.score);
  if (!d || !Number.isInteger(score) || score < 1 || score > 5) return null;
  return { score, comment: str(d.comment), ratedAtMs: Number(d.ratedAtMs ?? 0) };
}

/** Five stars, the score's filled ("★★★★☆"). */
export function stars(score: number): string {
  const filled = Math.max(0, Math.min(5, Math.round(score)));
  return "★".repeat(filled) + "☆".repeat(5 - filled);
}

export function toMessage(snapshot: QueryDocumentSnapshot): Message {
  const d = snapshot.data({ serverTimestamps: "estimate" });
  return {
    id: snapshot.id,
    direction: (d.direction ?? "in") as Direction,
    type: str(d.type) || "unsupported",
    content: (d.content as Record<string, any>) ?? {},
    text: d.text ?? null,
    sender: d.sender ?? {},
    status: str(d.status),
    error: d.error ?? null,
    reactions: d.reactions ?? {},
    edited: Boolean(d.edited),
    deleted: Boolean(d.deleted),
    sentAtMs: millis(d.sentAt) ?? millis(d.createdAt) ?? 0,
    replyTo: d.replyTo ?? null,
    providerMessageId: d.providerMessageId ?? null,
    clientMessageId: d.clientMessageId ?? null,
    tag: d.tag ?? null,
    activity: d.type === "activity" && d.activity ? (d.activity as Activity) : null,
  };
}

export function toAgent(snapshot: QueryDocumentSnapshot): Agent {
  const d = snapshot.data();
  const agent: Agent = { id: snapshot.id, name: str(d.name) || str(d.email), email: str(d.email), role: str(d.role), active: d.active !== false };
  if (d.presence && typeof d.presence === "object") agent.presence = d.presence;
  return agent;
}

export function toChannel(snapshot: QueryDocumentSnapshot): Channel {
  const d = snapshot.data();
  return { id: snapshot.id, kind: d.kind as ChannelKind, name: str(d.name), health: d.health ?? {} };
}

export function toLabel(snapshot: QueryDocumentSnapshot): Label {
  const d = snapshot.data();
  return { id: snapshot.id, name: str(d.name) || snapshot.id, color: str(d.color) || "#64748b" };
}
