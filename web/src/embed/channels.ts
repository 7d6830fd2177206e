/** The user's channels, live, and the unread count of each, computed from a watermark
 * (unread = max(0, channel.seq - member.lastReadSeq); see model.ts):
 *
 * - ONE collection-group listener on the user's own member documents (`members` where userId == me
 *   and tenantId == the app: the composite index in infra/firestore.indexes.json; the rules let an
 *   app user read exactly those). It gives the channel ids and each `lastReadSeq`. A member document
 *   changes only when this user reads, posts, joins or leaves: never when someone else posts.
 * - ONE document listener per membership on its channel document (`seq`, name, last message,
 *   `lastActivityAtMs`, by which the list is sorted here). A post changes that one small document
 *   (at most about once a second in a busy channel), so a listening member pays at most one read per
 *   post whatever the channel's size. Except the OPEN channel's (`focus`): its posts' listener
 *   already pays one read per post, and the document would make a viewer pay a second; it is
 *   paused while the channel is open (its row kept as it was) and listened to again when it closes.
 *
 * Why a listener per channel rather than batched `documentId() in [...]` queries of up to 30: after
 * the initial reads (one per channel either way) both cost one read per changed channel document;
 * but a batched query's id list is fixed, so every join or leave would replace the query and read
 * its up-to-30 documents again, where a per-channel listener reads one. The rules decide a document
 * read by that document's own member document (an exists() per channel), which a get evaluates
 * once, whereas a query over many ids would need one such call per id and Firestore allows 10 per
 * query request. And at most CHANNEL_LIMIT listeners (plus one) stay under the SDK's advised 100
 * per client; they all share the client's one connection.
 *
 * The support channel is the exception: its document is staff-only (its summary may quote an
 * agent's private note), so it comes from the chat API's `mysubs` (with the unread count the API
 * computes), asked at start, when it is opened or left, and again when something happens in it: a
 * post or reply (a listener on its latest visible message, which the rules let the user read) or a
 * read (its member document's lastReadSeq moves). */
import {
  collection,
  collectionGroup,
  doc,
  limit,
  limitToLast,
  onSnapshot,
  orderBy,
  query,
  where,
  type Unsubscribe,
} from "firebase/firestore";
import { computed, onScopeDispose, reactive, ref, shallowRef, watch } from "vue";

import {
  channelFromApi,
  channelFromDoc,
  membershipFromDoc,
  unreadFrom,
  type ApiChannel,
  type ChannelRow,
  type Membership,
  type ReadState,
} from "./model";
import { describe, type ChatSession } from "./session";

/** The list follows at most this many memberships (one channel-document listener each). */
export const CHANNEL_LIMIT = 50;
const SUPPORT_REFRESH_MS = 300;

export function useChannels(session: ChatSession) {
  const { db, appId, userId } = session;
  /** The user's memberships (member documents with a role), by channel id. */
  const memberships = shallowRef<ReadonlyMap<string, Membership>>(new Map());
  /** Each followed channel's document as its listener delivered it: a row, or null (missing, not
   * readable, or not a group/direct channel). No entry: not delivered yet. */
  const documents = reactive(new Map<string, ChannelRow | null>());
  const support = shallowRef<ChannelRow | null>(null);
  const supportUnread = ref(0);
  const membersLoaded = ref(false);
  const supportLoaded = ref(false);
  const problem = ref<string | null>(null);

  const isSupport = (id: string): boolean => support.value?.id === id;
  /** The open channel, whose document is not listened to while it is open (see the top). */
  const focused = ref<string | null>(null);

  const conversations = computed(() => {
    const rows: ChannelRow[] = [];
    for (const id of memberships.value.keys()) {
      const row = isSupport(id) ? null : documents.get(id);
      if (row) rows.push(row);
    }
    return rows;
  });

  const channels = computed(() =>
    [...conversations.value, ...(support.value ? [support.value] : [])].sort((a, b) => b.activityMs - a.activityMs),
  );

  /** Unread per listed channel: max(0, seq - lastReadSeq); the support channel's from the API. */
  const unread = computed<Record<string, number>>(() => {
    const counts: Record<string, number> = {};
    for (const row of conversations.value) counts[row.id] = unreadFrom(row.seq, memberships.value.get(row.id)?.lastReadSeq);
    if (support.value) counts[support.value.id] = supportUnread.value;
    return counts;
  });

  /** Every listener has delivered: the memberships, each one's channel document, and mysubs. */
  const settled = computed(
    () =>
      membersLoaded.value &&
      supportLoaded.value &&
      [...memberships.value.keys()].every((id) => isSupport(id) || documents.has(id)),
  );
  /** Settled once (the first full list): later joins do not bring "Loading…" back. */
  const loaded = ref(false);
  watch(settled, (now) => (loaded.value ||= now), { immediate: true, flush: "sync" });

  /** The open channel's read state, as useThread needs it. */
  function readState(id: string): ReadState {
    if (isSupport(id)) return { seq: null, lastReadSeq: null, unread: supportUnread.value, lastPostId: null };
    const row = documents.get(id);
    const membership = memberships.value.get(id);
    return {
      seq: row ? row.seq : null,
      lastReadSeq: membership ? membership.lastReadSeq : null,
      unread: unread.value[id] ?? 0,
      lastPostId: row ? row.lastPostId : null,
    };
  }

  // --- the support channel, through the API ---
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  function takeSupport(channel: ApiChannel | undefined): void {
    support.value = channel ? channelFromApi(channel) : null;
    supportUnread.value = Math.max(Number(channel?.unreadCount) || 0, 0);
  }

  async function loadSupport(): Promise<void> {
    try {
      const answer = await session.call<{ channels: ApiChannel[] }>("mysubs");
      if (disposed) return;
      takeSupport(answer.channels.find((channel) => channel.kind === "support"));
    } catch (exc) {
      if (!disposed) problem.value = `Your support channel could not be loaded: ${describe(exc)}`;
    } finally {
      supportLoaded.value = true;
    }
  }

  /** Ask mysubs again soon (several changes in a burst make one call). */
  function refreshSupport(): void {
    if (disposed) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void loadSupport(), SUPPORT_REFRESH_MS);
  }

  void loadSupport();

  // --- the memberships: one collection-group listener ---
  const stopMembers = session.track(
    onSnapshot(
      query(
        collectionGroup(db, "members"),
        where("userId", "==", userId),
        where("tenantId", "==", appId),
        limit(CHANNEL_LIMIT),
      ),
      (snapshot) => {
        const next = new Map<string, Membership>();
        for (const snap of snapshot.docs) {
          const membership = membershipFromDoc(snap);
          if (membership?.role) next.set(membership.channelId, membership);
        }
        // The support channel's read pointer moved (read here or elsewhere, or the user posted):
        // its unread count lives in the API's answer.
        const supportId = support.value?.id;
        if (membersLoaded.value && supportId && memberships.value.get(supportId)?.lastReadSeq !== next.get(supportId)?.lastReadSeq) {
          refreshSupport();
        }
        memberships.value = next;
        membersLoaded.value = true;
      },
      (exc) => {
        problem.value = `Your channels could not be loaded: ${describe(exc)}`;
        membersLoaded.value = true;
      },
    ),
  );

  // --- each membership's channel document ---
  const channelListeners = new Map<string, Unsubscribe>();
  function syncChannels(): void {
    const member = [...memberships.value.keys()].filter((id) => !isSupport(id));
    // The open channel's document is paused once it has been delivered (its row stays as it was).
    const paused = (id: string): boolean => id === focused.value && documents.has(id);
    const wanted = new Set(member.filter((id) => !paused(id)));
    for (const [id, stop] of channelListeners) {
      if (!wanted.has(id)) {
        stop();
        channelListeners.delete(id);
        if (!paused(id) || !member.includes(id)) documents.delete(id);
      }
    }
    for (const id of wanted) {
      if (channelListeners.has(id)) continue;
      const stop = session.track(
        onSnapshot(
          doc(db, "tenants", appId, "conversations", id),
          (snap) => {
            const kind = snap.exists() ? snap.data()?.kind : undefined;
            documents.set(id, kind === "group" || kind === "direct" ? channelFromDoc(snap, userId) : null);
            if (id === focused.value) syncChannels(); // opened before it arrived: pause it now
          },
          // Not readable (left or removed meanwhile, or the support channel before mysubs named
          // it): nothing to list.
          () => documents.set(id, null),
        ),
      );
      channelListeners.set(id, stop);
    }
  }
  // Synchronously: listeners start (and stop) in the same tick as the snapshot that asks for them.
  watch([memberships, () => support.value?.id, focused], syncChannels, { immediate: true, flush: "sync" });

  /** The channel now open (null: none): its document's listener pauses while it is. */
  function focus(id: string | null): void {
    focused.value = id;
  }

  // --- the support channel's latest visible message: the cue that an agent replied ---
  let stopSupportPosts: Unsubscribe | undefined;
  watch(
    () => support.value?.id,
    (id) => {
      stopSupportPosts?.();
      stopSupportPosts = undefined;
      if (!id) return;
      let first = true;
      stopSupportPosts = session.track(
        onSnapshot(
          query(
            collection(db, "tenants", appId, "conversations", id, "messages"),
            where("direction", "in", ["in", "out"]),
            orderBy("createdAt", "asc"),
            limitToLast(1),
          ),
          () => {
            if (!first) refreshSupport();
            first = false;
          },
          () => undefined, // the badge then moves only when the list is reopened: not worth an alert
        ),
      );
    },
    { immediate: true, flush: "sync" },
  );

  async function openSupport(): Promise<ChannelRow> {
    // One per user: an existing support channel comes back as it is (its last message included).
    takeSupport(await session.call<ApiChannel>("createSub", { support: true }));
    return support.value!;
  }

  async function createGroup(name: string): Promise<ChannelRow> {
    return channelFromApi(await session.call<ApiChannel>("createSub", { name }));
  }

  onScopeDispose(() => {
    disposed = true;
    clearTimeout(refreshTimer);
    stopMembers();
    stopSupportPosts?.();
    for (const stop of channelListeners.values()) stop();
    channelListeners.clear();
  });

  return { channels, unread, loaded, settled, problem, support, readState, refreshSupport, openSupport, createGroup, focus };
}

export type Channels = ReturnType<typeof useChannels>;
