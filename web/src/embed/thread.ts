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
import { computed, onScopeDispose, ref, shallowRef, watch, type Ref } from "vue";

import { isRefusal, isUnauthenticated } from "../lib/api";
import { attachmentType, createSignedUrls, guessContentType, uploadToStorage, type SignedMedia, type SignedUpload } from "../lib/mediaFiles";
import { newClientPostId, postFromDoc, type ChannelRow, type PendingPost, type PostView } from "./model";
import { describe, type ChatSession } from "./session";

export const POST_LIMIT = 50;
/** setRead at most this often while posts keep arriving: each call counts posts and writes. */
const READ_INTERVAL_MS = 2000;

export function useThread(session: ChatSession, channel: ChannelRow, unread: Ref<number>, notify: (text: string) => void) {
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

  // --- read state: unread (the member document, live) > 0 while the channel is open and the page is
  // visible -> setRead, throttled; the listener then reports 0 and the list's badge goes.
  let lastRead = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = false;
  let again = false;
  let disposed = false;

  const wantsRead = computed(() => unread.value > 0);

  function requestRead(): void {
    if (disposed || !wantsRead.value) return;
    if (document.visibilityState === "hidden") return; // visibilitychange asks again
    if (inFlight) {
      again = true;
      return;
    }
    if (timer !== undefined) return;
    timer = setTimeout(() => void markRead(), Math.max(0, lastRead + READ_INTERVAL_MS - Date.now()));
  }

  async function markRead(): Promise<void> {
    timer = undefined;
    if (disposed) return;
    inFlight = true;
    lastRead = Date.now();
    try {
      await session.call("setRead", { channelId: channel.id });
    } catch (exc) {
      if (!disposed) notify(`Could not mark the channel read: ${describe(exc)}`);
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        requestRead();
      }
    }
  }

  watch(unread, requestRead, { immediate: true });
  const onVisibility = (): void => requestRead();
  document.addEventListener("visibilitychange", onVisibility);

  onScopeDispose(() => {
    disposed = true;
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
    stop();
  });

  return { posts, pending, loaded, problem, send, sendFile, mediaUrl, retry, discard, like };
}
