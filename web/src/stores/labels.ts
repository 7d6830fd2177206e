/** The tenant's labels (tenants/{t}/labels), listened to live: the label picker in the thread, the
 * chips on each row, the inbox's label filter. Admins create, rename, recolour and delete them
 * through agent_api (the rules let nobody write); every agent sees the change at once. */
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { collection, onSnapshot, type Unsubscribe } from "firebase/firestore";

import { api } from "../lib/api";
import { db } from "../lib/firebase";
import { toLabel, type Label } from "../lib/types";
import { useNotices } from "./notices";

/** Colours offered when creating a label (any #RRGGBB is accepted by the server). */
export const LABEL_COLORS = ["#dc2626", "#ea580c", "#ca8a04", "#16a34a", "#0891b2", "#2563eb", "#7c3aed", "#db2777", "#64748b"];

export const useLabels = defineStore("labels", () => {
  const labels = ref<Label[]>([]);
  const byId = computed(() => new Map(labels.value.map((label) => [label.id, label])));
  const notices = useNotices();
  let unsubscribe: Unsubscribe | null = null;

  function start(tenantId: string): void {
    stop();
    unsubscribe = onSnapshot(
      collection(db(), "tenants", tenantId, "labels"),
      (snapshot) => {
        labels.value = snapshot.docs.map(toLabel).sort((a, b) => a.name.localeCompare(b.name));
      },
      (exc) => {
        labels.value = [];
        notices.error(`Labels could not be loaded (${exc.code}).`);
      },
    );
  }

  function stop(): void {
    unsubscribe?.();
    unsubscribe = null;
    labels.value = [];
  }

  /** The labels a conversation carries that still exist, in the label set's order. */
  function of(ids: readonly string[]): Label[] {
    const wanted = new Set(ids);
    return labels.value.filter((label) => wanted.has(label.id));
  }

  async function guarded<T>(what: string, action: () => Promise<T>): Promise<T | null> {
    notices.clearErrors();
    try {
      return await action();
    } catch (exc) {
      notices.error(`${what} failed: ${exc instanceof Error ? exc.message : String(exc)}`);
      return null;
    }
  }

  const create = (name: string, color: string) => guarded("Creating the label", () => api.createLabel(name, color));
  const rename = (id: string, name: string) => guarded("Renaming the label", () => api.updateLabel(id, { name }));
  const recolor = (id: string, color: string) => guarded("Changing the colour", () => api.updateLabel(id, { color }));
  const remove = (id: string) => guarded("Deleting the label", () => api.deleteLabel(id));
  /** Add and remove labels on any conversation (the list's rows; the thread uses its own store). */
  const setOn = (conversationId: string, add: string[], removed: string[]) =>
    guarded("Changing the labels", () => api.setLabels(conversationId, add, removed));

  return { labels, byId, of, start, stop, create, rename, recolor, remove, setOn };
});
