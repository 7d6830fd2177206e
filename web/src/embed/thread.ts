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
      await session.call("createPost", { channelId: channel.id, text: entry.text, clientPostId: entry.clientPostId });
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
    if (entry) void post(entry);
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

  return { posts, pending, loaded, problem, send, retry, discard, like };
}
