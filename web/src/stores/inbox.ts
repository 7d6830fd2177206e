/** The unified inbox: ONE live, limited query over the tenant's conversations, latest activity
 * first. "Load more" raises the limit (the listener is replaced, Firestore re-sends only changes
 * it has not sent), so the list stays live however far the agent has scrolled.
 *
 * Filters:
 * - channel, status and "assigned to me" are equality filters IN THE QUERY (each needs a composite
 *   index `<field> ASC, lastActivityAtMs DESC`; Firestore merges those indexes for combinations).
 * - "unassigned" is applied CLIENT-SIDE over the loaded page: conversations created by ingest have
 *   no `assigneeId` field at all, and `== null` only matches an explicit null.
 * - search by contact name is CLIENT-SIDE over the loaded rows (Firestore has no substring search);
 *   the hint under the box says so when more rows exist than are loaded.
 */
import { defineStore } from "pinia";
import { computed, reactive, ref, watch } from "vue";
import {
  collection,
  limit,
  onSnapshot,
  orderBy,
  query,
  where,
  type QueryConstraint,
  type Unsubscribe,
} from "firebase/firestore";

import { db } from "../lib/firebase";
import { toConversation, type ChannelKind, type Conversation, type ConversationStatus } from "../lib/types";

export const PAGE_SIZE = 30;

export interface InboxFilters {
  channel: ChannelKind | "all";
  status: ConversationStatus | "all";
  assignee: "anyone" | "me" | "unassigned";
}

export const useInbox = defineStore("inbox", () => {
  const filters = reactive<InboxFilters>({ channel: "all", status: "open", assignee: "anyone" });
  const search = ref("");
  const pageLimit = ref(PAGE_SIZE);
  const rows = ref<Conversation[]>([]);
  const loading = ref(true);
  const hasMore = ref(false);
  const error = ref<string | null>(null);
  /** False while Firestore serves the list from its cache (connection lost): updates may lag. */
  const live = ref(true);

  let tenantId = "";
  let uid = "";
  let unsubscribe: Unsubscribe | null = null;
  let stopWatch: (() => void) | null = null;

  function constraints(): QueryConstraint[] {
    // Support conversations only: the rules let staff read no other kind (an app's direct and group
    // channels are its users' private chats), and a query must ask for what the rules allow.
    const list: QueryConstraint[] = [where("kind", "==", "support")];
    if (filters.channel !== "all") list.push(where("channel", "==", filters.channel));
    if (filters.status !== "all") list.push(where("status", "==", filters.status));
    if (filters.assignee === "me") list.push(where("assigneeId", "==", uid));
    list.push(orderBy("lastActivityAtMs", "desc"), limit(pageLimit.value));
    return list;
  }

  function subscribe(): void {
    unsubscribe?.();
    loading.value = true;
    const wanted = pageLimit.value;
    let synced = false;
    unsubscribe = onSnapshot(
      query(collection(db(), "tenants", tenantId, "conversations"), ...constraints()),
      { includeMetadataChanges: true },
      (snapshot) => {
        const fromCache = snapshot.metadata.fromCache;
        if (fromCache && !synced) {
          // A first answer from the local cache (a filter changed): show what is known, but it is
          // not "empty" or "the end" until the server has answered.
          if (snapshot.size) rows.value = snapshot.docs.map(toConversation);
          return;
        }
        synced = true;
        live.value = !fromCache;
        rows.value = snapshot.docs.map(toConversation);
        hasMore.value = snapshot.size >= wanted;
        loading.value = false;
        error.value = null;
      },
      (exc) => {
        loading.value = false;
        error.value = `The inbox could not be loaded (${exc.code}).`;
      },
    );
  }

  function start(tenant: string, agentUid: string): void {
    stop();
    tenantId = tenant;
    uid = agentUid;
    subscribe();
    stopWatch = watch(
      () => [filters.channel, filters.status, filters.assignee],
      () => {
        pageLimit.value = PAGE_SIZE;
        subscribe();
      },
    );
  }

  function stop(): void {
    unsubscribe?.();
    unsubscribe = null;
    stopWatch?.();
    stopWatch = null;
    rows.value = [];
    loading.value = true;
  }

  function loadMore(): void {
    pageLimit.value += PAGE_SIZE;
    subscribe();
  }

  const visible = computed(() => {
    const needle = search.value.trim().toLocaleLowerCase();
    return rows.value.filter(
      (c) =>
        (filters.assignee !== "unassigned" || !c.assigneeId) &&
        (!needle ||
          c.contactName.toLocaleLowerCase().includes(needle) ||
          c.contactExternalId.toLocaleLowerCase().includes(needle)),
    );
  });

  const filtered = computed(
    () =>
      filters.channel !== "all" || filters.status !== "all" || filters.assignee !== "anyone" || search.value !== "",
  );

  function clearFilters(): void {
    filters.channel = "all";
    filters.status = "all";
    filters.assignee = "anyone";
    search.value = "";
  }

  return { filters, search, rows, visible, loading, hasMore, error, live, filtered, start, stop, loadMore, clearFilters };
});
