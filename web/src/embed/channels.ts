/** The user's channels, live: their group and direct conversations from one Firestore query, their
 * support channel from the chat API (its document is staff-only: `mysubs` lists it), and the unread
 * count of each from their own `members/{userId}` document.
 *
 * Why a listener per channel on members/{userId} rather than re-asking mysubs: that document is exactly
 * where the count lives (every post increments it in the post's own batch, setRead rewrites it), the
 * rules let the user read it, and a listener costs one small read per change, whereas mysubs reads
 * every channel and membership on each call and would still need something to tell it when to run.
 * mysubs is asked only for the support channel: at start, when it is opened, and when its member
 * document changes (a new post or reply), so its last message text stays current too. */
import {
  collection,
  doc,
  limit,
  onSnapshot,
  orderBy,
  query,
  where,
  type Unsubscribe,
} from "firebase/firestore";
import { computed, onScopeDispose, reactive, ref, shallowRef, watch } from "vue";

import { channelFromApi, channelFromDoc, type ApiChannel, type ChannelRow } from "./model";
import { describe, type ChatSession } from "./session";

/** The list shows at most this many group/direct channels (and a listener on each one's unread). */
export const CHANNEL_LIMIT = 50;
const SUPPORT_REFRESH_MS = 300;

export function useChannels(session: ChatSession) {
  const { db, appId, userId } = session;
  const conversations = shallowRef<ChannelRow[]>([]);
  const support = shallowRef<ChannelRow | null>(null);
  const unread = reactive<Record<string, number>>({});
  const listLoaded = ref(false);
  const supportLoaded = ref(false);
  const problem = ref<string | null>(null);

  const channels = computed(() =>
    [...conversations.value, ...(support.value ? [support.value] : [])].sort((a, b) => b.activityMs - a.activityMs),
  );
  const loaded = computed(() => listLoaded.value && supportLoaded.value);
  /** Loaded, and every listed channel's unread count has arrived (its listener is live). */
  const settled = computed(() => loaded.value && channels.value.every((channel) => channel.id in unread));

  // Only what the rules allow an app user to list: their direct/group conversations. Production
  // needs the composite index memberIds CONTAINS, kind ASC, lastActivityAtMs DESC
  // (infra/firestore.indexes.json).
  const stopList = session.track(
    onSnapshot(
      query(
        collection(db, "tenants", appId, "conversations"),
        where("memberIds", "array-contains", userId),
        where("kind", "in", ["direct", "group"]),
        orderBy("lastActivityAtMs", "desc"),
        limit(CHANNEL_LIMIT),
      ),
      (snapshot) => {
        conversations.value = snapshot.docs.map((snap) => channelFromDoc(snap, userId));
        listLoaded.value = true;
      },
      (exc) => {
        problem.value = `Your channels could not be loaded: ${describe(exc)}`;
        listLoaded.value = true;
      },
    ),
  );

  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  async function loadSupport(): Promise<void> {
    try {
      const answer = await session.call<{ channels: ApiChannel[] }>("mysubs");
      if (disposed) return;
      const found = answer.channels.find((channel) => channel.kind === "support");
      support.value = found ? channelFromApi(found) : null;
    } catch (exc) {
      if (!disposed) problem.value = `Your support channel could not be loaded: ${describe(exc)}`;
    } finally {
      supportLoaded.value = true;
    }
  }

  /** Ask mysubs again soon (several changes in a burst make one call). */
  function refreshSupport(): void {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void loadSupport(), SUPPORT_REFRESH_MS);
  }

  void loadSupport();

  // One listener per listed channel on the user's own membership document.
  const members = new Map<string, Unsubscribe>();
  function syncMembers(): void {
    const wanted = new Set(channels.value.map((channel) => channel.id));
    for (const [id, stop] of members) {
      if (!wanted.has(id)) {
        stop();
        members.delete(id);
        delete unread[id];
      }
    }
    for (const id of wanted) {
      if (members.has(id)) continue;
      let first = true;
      const stop = session.track(
        onSnapshot(
          doc(db, "tenants", appId, "conversations", id, "members", userId),
          (snap) => {
            const count = Math.max(Number(snap.data()?.unreadCount) || 0, 0);
            const changed = unread[id] !== count;
            unread[id] = count;
            // The support channel's summary is not readable: a change here (a post, a reply, a
            // read) is the cue to ask mysubs for its last message.
            if (!first && changed && support.value?.id === id) refreshSupport();
            first = false;
          },
          () => {
            unread[id] = 0; // no longer a member (left, or removed): nothing to count
          },
        ),
      );
      members.set(id, stop);
    }
  }
  watch(channels, syncMembers, { immediate: true });

  async function openSupport(): Promise<ChannelRow> {
    // One per user: an existing support channel comes back as it is (its last message included).
    support.value = channelFromApi(await session.call<ApiChannel>("createSub", { support: true }));
    return support.value;
  }

  async function createGroup(name: string): Promise<ChannelRow> {
    return channelFromApi(await session.call<ApiChannel>("createSub", { name }));
  }

  onScopeDispose(() => {
    disposed = true;
    clearTimeout(refreshTimer);
    stopList();
    for (const stop of members.values()) stop();
    members.clear();
  });

  return { channels, unread, loaded, settled, problem, support, refreshSupport, openSupport, createGroup };
}

export type Channels = ReturnType<typeof useChannels>;
