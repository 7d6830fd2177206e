/** Firestore documents and chat API answers as the widget shows them. Field names follow
 * shared/chat/api.py (`_new_channel`, `_new_member`, `_channel`, `create_post`) and shared/outbox.py
 * (agents' replies in support channels).
 *
 * Read state is a watermark (issue 14): a channel document counts its posts in `seq`, the user's
 * member document holds `lastReadSeq`, and unread = max(0, seq - lastReadSeq), computed here. Nothing
 * per member is written when someone posts (the poster's own `lastReadSeq` moves with their post). */
import type { DocumentData, DocumentSnapshot, QueryDocumentSnapshot, Timestamp } from "firebase/firestore";

import { mediaEntries, type MediaEntry } from "../lib/mediaFiles";

export type ChannelKind = "group" | "direct" | "support";

export interface ChannelRow {
  id: string;
  kind: ChannelKind;
  name: string;
  lastMessageText: string | null;
  /** For ordering the list, newest activity first. */
  activityMs: number;
  /** The channel document's post count as last delivered (null: not readable here, the support
   * channel, whose document is staff-only). */
  seq: number | null;
  /** The post `seq` last counted (the channel's `lastPost.id`): later posts the widget shows are not
   * in `seq` yet (a hot channel folds them in about a second later). */
  lastPostId: string | null;
}

/** The user's member document of one channel (`tenants/{app}/conversations/{c}/members/{userId}`),
 * from the collection-group listener. */
export interface Membership {
  channelId: string;
  /** Membership is a member document WITH a role (as the API and the rules test it). */
  role: "owner" | "member" | null;
  lastReadSeq: number;
}

/** What the open channel needs to know about its read state, live. */
export interface ReadState {
  /** The channel's seq this client has seen (null: unknown here; setRead then lets the server read
   * it). */
  seq: number | null;
  /** The user's lastReadSeq (null: unknown here). */
  lastReadSeq: number | null;
  unread: number;
  /** The post the channel's seq counted last (null: none, or unknown). */
  lastPostId: string | null;
}

/** Unread = max(0, seq - lastReadSeq). */
export function unreadFrom(seq: number | null | undefined, lastReadSeq: number | null | undefined): number {
  return Math.max(0, (Number(seq) || 0) - (Number(lastReadSeq) || 0));
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
  /** The caller's unread count, computed by the API from seq and lastReadSeq. */
  unreadCount: number | null;
}

const KIND_NAMES: Record<ChannelKind, string> = { group: "Group", direct: "Direct message", support: "Support" };

/** A group or direct conversation document (read through the rules: the user is a member). */
export function channelFromDoc(doc: Pick<DocumentSnapshot<DocumentData>, "id" | "data">, me: string): ChannelRow {
  const data = doc.data() ?? {};
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
    seq: Math.max(Number(data.seq) || 0, 0),
    lastPostId: postIdOf(data.lastPost) ?? postIdOf(data.lastMessage),
  };
}

function postIdOf(summary: unknown): string | null {
  const id = (summary as { id?: unknown } | null | undefined)?.id;
  return typeof id === "string" && id ? id : null;
}

/** The seq the reader has seen: the channel's, plus the posts shown after the one it counted last
 * (in a channel hot enough to defer its summary, seq trails the posts by about a second; a reader
 * who saw a post and left meanwhile has still read it). `posts` oldest first. */
export function seenSeq(seq: number, lastPostId: string | null, posts: readonly { id: string }[]): number {
  if (lastPostId === null) return seq === 0 ? posts.length : seq;
  const index = posts.findIndex((post) => post.id === lastPostId);
  // Not among the posts shown: they are older than it (or it is older than the last 50: rare).
  return index < 0 ? seq : seq + (posts.length - 1 - index);
}

/** A seenSeq that also counts what arrives after the channel's last post has scrolled off screen:
 * while a channel is open its document is not listened to (its posts' listener already pays one
 * read per post; the document would cost a viewer a second), so its seq and lastPostId stay as they
 * were when it opened, and more than a screenful of posts may arrive after that post. Every post
 * first seen after the anchor counts, once. */
export function seenCounter(): (seq: number, lastPostId: string | null, posts: readonly { id: string }[]) => number {
  let anchor = "";
  let primed = false;
  const known = new Set<string>();
  const counted = new Set<string>();
  return (seq, lastPostId, posts) => {
    const key = `${seq}\u0000${lastPostId ?? ""}`;
    if (key !== anchor) {
      anchor = key;
      primed = false;
      known.clear();
      counted.clear();
    }
    const index = lastPostId === null ? -1 : posts.findIndex((post) => post.id === lastPostId);
    if (index >= 0) {
      for (const post of posts.slice(index + 1)) counted.add(post.id);
    } else if (primed || (lastPostId === null && seq === 0)) {
      for (const post of posts) if (!known.has(post.id)) counted.add(post.id);
    }
    for (const post of posts) known.add(post.id);
    primed = true;
    return seq + counted.size;
  };
}

/** The user's member document (from the collection-group query on `members`). The channel is its
 * `channelId` field, or else the document's parent (a document written before the field existed). */
export function membershipFromDoc(doc: QueryDocumentSnapshot<DocumentData>): Membership | null {
  const data = doc.data();
  const channelId =
    typeof data.channelId === "string" && data.channelId ? data.channelId : (doc.ref?.parent?.parent?.id ?? "");
  if (!channelId) return null;
  return {
    channelId,
    role: data.role === "owner" || data.role === "member" ? data.role : null,
    lastReadSeq: Math.max(Number(data.lastReadSeq) || 0, 0),
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
    seq: null,
    lastPostId: null,
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
