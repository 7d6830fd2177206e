/** Canned replies (issue 17, part 2): the tenant's shared replies and the agent's own personal ones,
 * listened to live (two queries the security rules allow: `scope == "tenant"` and
 * `ownerId == <uid>`), merged and ordered by shortcut. Writes go through agent_api (`save_canned`,
 * `delete_canned`); the server checks who may write what. Filling variables and the `/` filter are
 * lib/cannedVariables.ts. */
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { collection, onSnapshot, query, where, type QueryDocumentSnapshot, type Unsubscribe } from "firebase/firestore";

import { api, type CannedReply, type CannedReplyDraft } from "../lib/api";
import { filterCanned } from "../lib/cannedVariables";
import { db } from "../lib/firebase";

function toCanned(snapshot: QueryDocumentSnapshot): CannedReply {
  const data = snapshot.data();
  return {
    id: snapshot.id,
    shortcut: String(data.shortcut ?? ""),
    title: String(data.title ?? ""),
    body: String(data.body ?? ""),
    scope: data.scope === "personal" ? "personal" : "tenant",
    ownerId: (data.ownerId as string | undefined) ?? null,
  };
}

export const useCanned = defineStore("canned", () => {
  const team = ref<CannedReply[]>([]);
  const personal = ref<CannedReply[]>([]);
  const error = ref<string | null>(null);
  /** The management dialog (components/CannedRepliesPanel.vue), opened from the header. */
  const managerOpen = ref(false);
  let stops: Unsubscribe[] = [];

  /** Personal replies first when a shortcut is both (the agent's own wins), then by shortcut. */
  const replies = computed(() =>
    [...personal.value, ...team.value].sort(
      (a, b) => a.shortcut.localeCompare(b.shortcut) || (a.scope === b.scope ? 0 : a.scope === "personal" ? -1 : 1),
    ),
  );

  function start(tenantId: string, uid: string): void {
    stop();
    const replies = collection(db(), "tenants", tenantId, "cannedReplies");
    const lost = () => {
      error.value = "Canned replies could not be loaded.";
    };
    stops = [
      onSnapshot(query(replies, where("scope", "==", "tenant")), (s) => (team.value = s.docs.map(toCanned)), lost),
      onSnapshot(query(replies, where("ownerId", "==", uid)), (s) => {
        personal.value = s.docs.map(toCanned).filter((r) => r.scope === "personal");
      }, lost),
    ];
  }

  function stop(): void {
    stops.forEach((unsubscribe) => unsubscribe());
    stops = [];
    team.value = [];
    personal.value = [];
  }

  function matching(filter: string): CannedReply[] {
    return filterCanned(replies.value, filter);
  }

  async function save(draft: CannedReplyDraft): Promise<CannedReply> {
    return (await api.saveCanned(draft)).cannedReply;
  }

  async function remove(id: string): Promise<void> {
    await api.deleteCanned(id);
  }

  return { team, personal, replies, error, managerOpen, start, stop, matching, save, remove };
});
