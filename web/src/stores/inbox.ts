/** The unified inbox: ONE live, limited query over the tenant's conversations, latest activity
 * first. "Load more" raises the limit (the listener is replaced, Firestore re-sends only changes
 * it has not sent), so the list stays live however far the agent has scrolled.
 *
 * Filters, all IN THE QUERY (each needs a composite index `<field>, lastActivityAtMs DESC` in
 * infra/firestore.indexes.json; Firestore merges those indexes for combinations):
 * - channel, status and "assigned to me" (`assigneeId == uid`) are equality filters;
 * - "unassigned" is `assigned == 0`: ingest gives every conversation `assigned` with Maximum(0)
 *   and assign() writes 0 or 1 (Firestore cannot query a missing field, and `assigneeId == null`
 *   matches only an explicit null; older conversations get the field from `backfill-inbox`);
 * - a label is `labels array-contains <labelId>`.
 * - search by contact name is CLIENT-SIDE over the loaded rows (Firestore has no substring search);
 *   the hint under the box says so when more rows exist than are loaded.
 *
 * Selection (bulk actions): checkboxes on the rows, shift-click selects a range of the visible
 * rows; `bulk()` sends one agent_api request for up to 100 conversations and reports per-id
 * failures. Rows that leave the list leave the selection.
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

import { api, type BulkOperation } from "../lib/api";
import { db } from "../lib/firebase";
import { toConversation, type ChannelKind, type Conversation, type ConversationStatus } from "../lib/types";
import { useNotices } from "./notices";

export const PAGE_SIZE = 30;
export const MAX_BULK = 100; // shared/bulk.py MAX_BULK

export interface InboxFilters {
  channel: ChannelKind | "all";
  status: ConversationStatus | "all";
  assignee: "anyone" | "me" | "unassigned";
  /** A label id, or "all". */
  label: string;
}

export const useInbox = defineStore("inbox", () => {
  const filters = reactive<InboxFilters>({ channel: "all", status: "open", assignee: "anyone", label: "all" });
  const search = ref("");
  const pageLimit = ref(PAGE_SIZE);
  const rows = ref<Conversation[]>([]);
  const loading = ref(true);
  const hasMore = ref(false);
  const error = ref<string | null>(null);
  /** False while Firestore serves the list from its cache (connection lost): updates may lag. */
  const live = ref(true);
  /** Ticked rows (bulk actions), by id. */
  const selection = ref<string[]>([]);

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
    if (filters.assignee === "unassigned") list.push(where("assigned", "==", 0));
    if (filters.label !== "all") list.push(where("labels", "array-contains", filters.label));
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
      () => [filters.channel, filters.status, filters.assignee, filters.label],
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
    selection.value = [];
  }

  function loadMore(): void {
    pageLimit.value += PAGE_SIZE;
    subscribe();
  }

  const visible = computed(() => {
    const needle = search.value.trim().toLocaleLowerCase();
    return rows.value.filter(
      (c) =>
        !needle ||
        c.contactName.toLocaleLowerCase().includes(needle) ||
        c.contactExternalId.toLocaleLowerCase().includes(needle),
    );
  });

  /** Whether anything but the default "Open" view narrows the list (the empty state says which). */
  const filtered = computed(
    () =>
      filters.channel !== "all" ||
      filters.status !== "all" ||
      filters.assignee !== "anyone" ||
      filters.label !== "all" ||
      search.value !== "",
  );
  /** The default view: open conversations, nothing else asked. Empty means the inbox is empty. */
  const onlyOpen = computed(
    () =>
      filters.status === "open" &&
      filters.channel === "all" &&
      filters.assignee === "anyone" &&
      filters.label === "all" &&
      search.value === "",
  );

  function clearFilters(): void {
    filters.channel = "all";
    filters.status = "all";
    filters.assignee = "anyone";
    filters.label = "all";
    search.value = "";
  }

  // --- selection and bulk actions -----------------------------------------------------------------

  let anchor: string | null = null;
  /** The selected conversations still in the list, in list order. */
  const selected = computed(() => {
    const chosen = new Set(selection.value);
    return visible.value.filter((c) => chosen.has(c.id)).map((c) => c.id);
  });
  const bulkBusy = ref(false);
  const notices = useNotices();

  /** Tick or untick a row; with `range` (shift-click) every visible row from the last one ticked. */
  function toggle(id: string, range = false): void {
    const ids = visible.value.map((c) => c.id);
    const current = new Set(selected.value);
    if (range && anchor && ids.includes(anchor) && ids.includes(id)) {
      const [from, to] = [ids.indexOf(anchor), ids.indexOf(id)].sort((a, b) => a - b);
      const on = !current.has(id) || current.has(anchor);
      for (const rowId of ids.slice(from, to + 1)) {
        if (on) current.add(rowId);
        else current.delete(rowId);
      }
    } else if (current.has(id)) current.delete(id);
    else current.add(id);
    anchor = id;
    selection.value = ids.filter((rowId) => current.has(rowId)).slice(0, MAX_BULK);
  }

  function selectAll(on: boolean): void {
    selection.value = on ? visible.value.slice(0, MAX_BULK).map((c) => c.id) : [];
    anchor = null;
  }

  function clearSelection(): void {
    selection.value = [];
    anchor = null;
  }

  /** One request for the selected conversations; those that failed stay selected, with a notice
   * naming how many and why. */
  async function bulk(operation: BulkOperation, done: string): Promise<void> {
    const ids = selected.value.slice(0, MAX_BULK);
    if (!ids.length || bulkBusy.value) return;
    bulkBusy.value = true;
    notices.clearErrors();
    try {
      const answer = await api.bulk(ids, operation);
      const failed = ids.filter((id) => answer.results[id] && !answer.results[id].ok);
      selection.value = failed;
      if (answer.succeeded) notices.info(`${done} ${answer.succeeded} conversation${answer.succeeded === 1 ? "" : "s"}.`);
      if (failed.length) {
        const first = answer.results[failed[0]];
        const reason = first && !first.ok ? first.message : "";
        notices.error(`${failed.length} conversation${failed.length === 1 ? "" : "s"} could not be changed${reason ? `: ${reason}` : ""}.`);
      }
    } catch (exc) {
      notices.error(`The bulk action failed: ${exc instanceof Error ? exc.message : String(exc)}`);
    } finally {
      bulkBusy.value = false;
    }
  }

  return {
    filters,
    search,
    rows,
    visible,
    loading,
    hasMore,
    error,
    live,
    filtered,
    onlyOpen,
    start,
    stop,
    loadMore,
    clearFilters,
    selection,
    selected,
    bulkBusy,
    toggle,
    selectAll,
    clearSelection,
    bulk,
  };
});
