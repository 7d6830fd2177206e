/** Firestore documents and chat API answers as the widget shows them. Field names follow
 * shared/chat/api.py (`_new_channel`, `_channel`, `create_post`) and shared/outbox.py (agents'
 * replies in support channels). */
import type { DocumentData, QueryDocumentSnapshot, Timestamp } from "firebase/firestore";

import { mediaEntries, type MediaEntry } from "../lib/mediaFiles";

export type ChannelKind = "group" | "direct" | "support";

export interface ChannelRow {
  id: string;
  kind: ChannelKind;
  name: string;
  lastMessageText: string | null;
  /** For ordering the list, newest activity first. */
  activityMs: number;
}

export interface PostView {
  id: string;
  clientPostId: string | null;
  senderId: string | null;
  senderName: string;
  senderKind: "user" | "agent" | "system";
  text: string;
  createdAt: Date | null;
  likes: number;
  likedByMe: boolean;
  /** text, image, file (and an agent's image, audio, video, document in support channels). */
  type: string;
  /** Its files (content.media[]), shown through chat_api mediaUrl. */
  media: MediaEntry[];
}

/** A post sent from this widget that the live query has not delivered yet. */
export interface PendingPost {
  clientPostId: string;
  text: string;
  /** Why it was not sent (null while sending). */
  failed: string | null;
  /** An image or file post: the file's name, its upload progress (0..1), and once uploaded what
   * createPost posts (a retry posts it again without uploading again). */
  fileName?: string;
  progress?: number;
  attachment?: { path: string; fileName: string; contentType: string; size: number } | null;
  kind?: "image" | "file";
}

/** The chat API's Channel (shared/chat/models.py), the fields the widget reads. */
export interface ApiChannel {
  id: string;
  kind: ChannelKind;
  name: string | null;
  lastMessageText: string | null;
  lastMessage: { createdAt: string | null } | null;
  createdAt: string | null;
  updatedAt: string | null;
  unreadCount: number | null;
}

const KIND_NAMES: Record<ChannelKind, string> = { group: "Group", direct: "Direct message", support: "Support" };

/** A group or direct conversation document (read through the rules: the user is a member). */
export function channelFromDoc(doc: QueryDocumentSnapshot<DocumentData>, me: string): ChannelRow {
  const data = doc.data();
  const kind = (["group", "direct", "support"].includes(data.kind) ? data.kind : "group") as ChannelKind;
  let name: string | undefined = typeof data.name === "string" && data.name ? data.name : undefined;
  if (!name && kind === "direct") {
    // shared/chat/api.py `_channel`: a direct channel is named after the other member.
    const names = (data.memberNames ?? {}) as Record<string, string>;
    name = Object.entries(names).find(([id]) => id !== me)?.[1];
  }
  return {
    id: doc.id,
    kind,
    name: name || KIND_NAMES[kind],
    lastMessageText: typeof data.lastMessageText === "string" ? data.lastMessageText : null,
    activityMs: Number(data.lastActivityAtMs) || 0,
  };
}

/** A channel from the API (the support channel: its document is staff-only, so mysubs lists it). */
export function channelFromApi(channel: ApiChannel): ChannelRow {
  const stamps = [channel.lastMessage?.createdAt, channel.updatedAt, channel.createdAt]
    .map((stamp) => (stamp ? Date.parse(stamp) : NaN))
    .filter((ms) => !Number.isNaN(ms));
  return {
    id: channel.id,
    kind: channel.kind,
    name: channel.name || KIND_NAMES[channel.kind],
    lastMessageText: channel.lastMessageText,
    activityMs: stamps.length ? Math.max(...stamps) : 0,
  };
}

export function postFromDoc(doc: QueryDocumentSnapshot<DocumentData>, me: string): PostView {
  const data = doc.data();
  const sender = (data.sender ?? {}) as { kind?: string; id?: string; name?: string };
  const content = (data.content ?? {}) as { text?: string; caption?: string; media?: unknown };
  const media = mediaEntries(content);
  const senderKind = sender.kind === "user" || sender.kind === "agent" ? sender.kind : "system";
  const createdAt = data.createdAt as Timestamp | null | undefined;
  return {
    id: doc.id,
    clientPostId: data.clientPostId ?? data.clientMessageId ?? null,
    senderId: sender.id ?? null,
    senderName: sender.name || sender.id || (senderKind === "agent" ? "Support" : "Someone"),
    senderKind,
    text: String(data.text ?? content.text ?? content.caption ?? (data.type && !media.length ? `[${data.type}]` : "")),
    createdAt: createdAt && typeof createdAt.toDate === "function" ? createdAt.toDate() : null,
    likes: Math.max(Number(data.likes) || 0, 0),
    likedByMe: Boolean(data.likedBy && me in data.likedBy),
    type: String(data.type ?? "text"),
    media,
  };
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayAndTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });

/** "14:05" today, "Mar 3, 14:05" before. */
export function stamp(at: Date | null): string {
  if (!at) return "";
  const today = new Date();
  return at.toDateString() === today.toDateString() ? timeOfDay.format(at) : dayAndTime.format(at);
}

/** An idempotency key for createPost (models.CLIENT_POST_ID). crypto.getRandomValues works on
 * plain-http pages too, where crypto.randomUUID does not exist. */
export function newClientPostId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `w-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}
