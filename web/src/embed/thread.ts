/** The open channel: its last posts, live; sends shown at once as pending and replaced by the live
 * post (matched on clientPostId, which also makes a retry idempotent on the server); likes; and the
 * read pointer moved while the user is looking. */
import {
  collection,
  limitToLast,
  onSnapshot,
  orderBy,
  query,
  where,
  type QueryConstraint,
} from "firebase/firestore";
import { onScopeDispose, ref, shallowRef, watch, type Ref } from "vue";

import { isRefusal, isUnauthenticated } from "../lib/api";
import { attachmentType, createSignedUrls, guessContentType, uploadToStorage, type SignedMedia, type SignedUpload } from "../lib/mediaFiles";
import { newClientPostId, postFromDoc, seenCounter, type ChannelRow, type PendingPost, type PostView, type ReadState } from "./model";
import { describe, type ChatSession } from "./session";

export const POST_LIMIT = 50;
/** setRead at most this often while posts keep arriving: each call writes the member document. */
export const READ_INTERVAL_MS = 3000;

export function useThread(session: ChatSession, channel: ChannelRow, read: Ref<ReadState>, notify: (text: string) => void) {
  const { db, appId, userId } = session;
  const posts = shallowRef<PostView[]>([]);
  const pending = ref<PendingPost[]>([]);
  const loaded = ref(false);
  const problem = ref<string | null>(null);

  // Support channels also hold the agents' private notes: the rules let the user list their
  // messages only with this filter (production index: direction ASC, createdAt DESC).
  const constraints: QueryConstraint[] =
    channel.kind === "support" ? [where("direction", "in", ["in", "out"])] : [];
  const stop = session.track(
    onSnapshot(
      query(
        collection(db, "tenants", appId, "conversations", channel.id, "messages"),
        ...constraints,
        orderBy("createdAt", "asc"),
        limitToLast(POST_LIMIT),
      ),
      (snapshot) => {
        const live = snapshot.docs.map((snap) => postFromDoc(snap, userId));
        posts.value = live;
        const arrived = new Set(live.map((post) => post.clientPostId).filter(Boolean));
        if (pending.value.some((post) => arrived.has(post.clientPostId))) {
          pending.value = pending.value.filter((post) => !arrived.has(post.clientPostId));
        }
        loaded.value = true;
      },
      (exc) => {
        problem.value = `The posts could not be loaded: ${describe(exc)}`;
        loaded.value = true;
      },
    ),
  );

  async function post(entry: PendingPost): Promise<void> {
    entry.failed = null;
    try {
      const body = entry.attachment
        ? { channelId: channel.id, type: entry.kind, attachment: entry.attachment, clientPostId: entry.clientPostId, ...(entry.text ? { text: entry.text } : {}) }
        : { channelId: channel.id, text: entry.text, clientPostId: entry.clientPostId };
      await session.call("createPost", body);
    } catch (exc) {
      // Still pending (the live post may have arrived meanwhile): say why and offer Retry, which
      // sends the same clientPostId, so the server stores it once whatever happened. A refusal,
      // or the session's end (401: lib/api.ts isRefusal), is said as it is: resending will not help.
      const still = pending.value.find((item) => item.clientPostId === entry.clientPostId);
      if (still) {
        still.failed = isRefusal(exc) || isUnauthenticated(exc) ? describe(exc) : `${describe(exc)} (not sent)`;
      }
    }
  }

  function send(text: string): void {
    const entry: PendingPost = { clientPostId: newClientPostId(), text, failed: null };
    pending.value = [...pending.value, entry];
    void post(pending.value[pending.value.length - 1]!);
  }

  function retry(clientPostId: string): void {
    const entry = pending.value.find((item) => item.clientPostId === clientPostId);
    if (entry && entry.fileName && !entry.attachment) {
      const file = files.get(clientPostId);
      if (file) void upload(entry, file);
    } else if (entry) void post(entry);
  }

  // --- image and file posts: upload straight to storage (chat_api uploadUrl), then createPost.
  const files = new Map<string, File>();

  async function upload(entry: PendingPost, file: File): Promise<void> {
    entry.failed = null;
    const find = () => pending.value.find((item) => item.clientPostId === entry.clientPostId);
    try {
      const contentType = guessContentType(file);
      const signed = await session.call<SignedUpload>("uploadUrl", {
        channelId: channel.id,
        fileName: file.name || "file",
        contentType,
        size: file.size,
      });
      await uploadToStorage(signed, file, (fraction) => {
        const current = find();
        if (current) current.progress = fraction;
      });
      const current = find();
      if (!current) return; // discarded meanwhile
      current.attachment = { path: signed.path, fileName: file.name || signed.fileName, contentType: signed.contentType, size: file.size };
      files.delete(entry.clientPostId);
      await post(current);
    } catch (exc) {
      const current = find();
      if (current) current.failed = exc instanceof Error && !("code" in exc) ? exc.message : describe(exc);
    }
  }

  /** Post a file: a picture as an image post, anything else as a file post; ``caption`` goes with it. */
  function sendFile(file: File, caption = ""): void {
    const kind = attachmentType(guessContentType(file)) === "image" ? "image" : "file";
    const entry: PendingPost = {
      clientPostId: newClientPostId(),
      text: caption,
      failed: null,
      fileName: file.name || "file",
      progress: 0,
      attachment: null,
      kind,
    };
    files.set(entry.clientPostId, file);
    pending.value = [...pending.value, entry];
    void upload(pending.value[pending.value.length - 1]!, file);
  }

  const signedUrls = createSignedUrls((_channel, postId, index, variant) =>
    session.call<SignedMedia>("mediaUrl", { channelId: channel.id, postId, index, variant }),
  );

  /** A signed URL (5 minutes, cached) for one file of a post. */
  function mediaUrl(postId: string, index: number, variant: "original" | "thumbnail"): Promise<string> {
    return signedUrls.get(channel.id, postId, index, variant);
  }

  function discard(clientPostId: string): void {
    pending.value = pending.value.filter((item) => item.clientPostId !== clientPostId);
  }

  async function like(postId: string): Promise<void> {
    try {
      await session.call("likePost", { channelId: channel.id, postId });
    } catch (exc) {
      notify(`Could not like the post: ${describe(exc)}`);
    }
  }

  // --- read state. Something new is seen when the channel's seq (live from its document; plus the
  // posts shown that it has not counted yet, see seenSeq) passes both the user's lastReadSeq and the
  // last seq sent, while the channel is open and the page
  // visible. setRead then carries that seq (so the server reads nothing) and `viewing: true` (the
  // push job skips members viewing the channel), at most every READ_INTERVAL_MS under a burst; and
  // once more with `viewing: false` when the channel closes or the page is hidden or left, sent with
  // `keepalive` so it survives the page going away. Nothing new seen (and no viewing to end): no
  // call. The support channel's seq is not readable here (staff-only document): its unread count
  // from the API is the cue, and setRead goes without a seq (the server reads it).
  let sentSeq = -1;
  /** Support channel: unread seen since the last setRead. */
  let unsent = false;
  /** A setRead with viewing: true went out, and none with viewing: false since. */
  let viewing = false;
  let lastSent = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = false;
  let again = false;
  let disposed = false;

  const isVisible = (): boolean => document.visibilityState !== "hidden";

  const seenSeq = seenCounter();
  /** The seq on screen: the channel's, plus the posts shown that it has not counted yet (and those
   * that arrived since, once its last post scrolled off: see seenCounter). */
  function seen(): number | null {
    const { seq, lastPostId } = read.value;
    return seq === null ? null : seenSeq(seq, lastPostId, posts.value);
  }

  function hasNew(): boolean {
    const seq = seen();
    if (seq === null) return unsent;
    return seq > Math.max(sentSeq, read.value.lastReadSeq ?? 0);
  }

  function body(viewingNow: boolean): Record<string, unknown> {
    const seq = seen();
    // Never below the stored pointer (a hot channel's seq can trail the poster's own lastReadSeq).
    const sent = seq === null ? {} : { seq: Math.max(seq, read.value.lastReadSeq ?? 0) };
    return { channelId: channel.id, ...sent, viewing: viewingNow };
  }

  /** Record what this setRead tells the server; the previous state, to restore if it fails. */
  function record(viewingNow: boolean): () => void {
    const before = { sentSeq, unsent };
    sentSeq = Math.max(sentSeq, seen() ?? -1);
    unsent = false;
    viewing = viewingNow;
    lastSent = Date.now();
    return () => {
      sentSeq = Math.min(sentSeq, before.sentSeq);
      unsent ||= before.unsent;
    };
  }

  function requestRead(): void {
    if (disposed || !isVisible() || !hasNew()) return;
    if (inFlight) {
      again = true;
      return;
    }
    if (timer !== undefined) return;
    timer = setTimeout(() => void markRead(), Math.max(0, lastSent + READ_INTERVAL_MS - Date.now()));
  }

  async function markRead(): Promise<void> {
    timer = undefined;
    // Decided when it fires: a post of the user's own moves seq and their lastReadSeq together.
    if (disposed || !isVisible() || !hasNew()) return;
    const payload = body(true);
    const restore = record(true);
    inFlight = true;
    try {
      await session.call("setRead", payload);
    } catch (exc) {
      restore();
      if (!disposed) notify(`Could not mark the channel read: ${describe(exc)}`);
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        requestRead();
      }
    }
  }

  /** The channel closes or the page is hidden or left: one last setRead, `viewing: false`, if
   * something new was seen or the server was told we are viewing. `seen` false: the page is already
   * hidden, and what arrived since was not on screen (hiding flushed what was). */
  function flush(seen: boolean): void {
    clearTimeout(timer);
    timer = undefined;
    if (!seen || !(hasNew() || viewing)) return;
    const payload = body(false);
    record(false);
    session.sendOnExit("setRead", payload);
  }

  watch(
    () => [read.value.seq, read.value.lastReadSeq, read.value.unread, read.value.lastPostId, posts.value] as const,
    ([seq, , count], previous) => {
      if (seq === null && count > 0 && count !== previous?.[2]) unsent = true;
      requestRead();
    },
    { immediate: true },
  );
  const onVisibility = (): void => {
    // Fired once hidden: what was delivered until now was on screen.
    if (isVisible()) requestRead();
    else flush(true);
  };
  const onPageHide = (): void => flush(isVisible());
  document.addEventListener("visibilitychange", onVisibility);
  window.addEventListener("pagehide", onPageHide);

  onScopeDispose(() => {
    flush(isVisible());
    disposed = true;
    document.removeEventListener("visibilitychange", onVisibility);
    window.removeEventListener("pagehide", onPageHide);
    stop();
  });

  return { posts, pending, loaded, problem, send, sendFile, mediaUrl, retry, discard, like };
}
