/** The tenant's agents (for the assignee picker and names on messages) and channels (names, health),
 * both small collections, listened to live. */
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { collection, onSnapshot, type Unsubscribe } from "firebase/firestore";

import { db } from "../lib/firebase";
import { toAgent, toChannel, type Agent, type Channel } from "../lib/types";

export const useDirectory = defineStore("directory", () => {
  const agents = ref<Agent[]>([]);
  const channels = ref<Channel[]>([]);
  let stops: Unsubscribe[] = [];

  const agentsById = computed(() => new Map(agents.value.map((a) => [a.id, a])));
  const channelsById = computed(() => new Map(channels.value.map((c) => [c.id, c])));

  function start(tenantId: string): void {
    stop();
    stops = [
      onSnapshot(
        collection(db(), "tenants", tenantId, "agents"),
        (snapshot) => {
          agents.value = snapshot.docs.map(toAgent).sort((a, b) => a.name.localeCompare(b.name));
        },
        () => (agents.value = []),
      ),
      onSnapshot(
        collection(db(), "tenants", tenantId, "channels"),
        (snapshot) => (channels.value = snapshot.docs.map(toChannel)),
        () => (channels.value = []),
      ),
    ];
  }

  function stop(): void {
    stops.forEach((unsubscribe) => unsubscribe());
    stops = [];
  }

  function agentName(id: string | null | undefined): string {
    if (!id) return "Unassigned";
    return agentsById.value.get(id)?.name ?? "Unknown agent";
  }

  return { agents, channels, agentsById, channelsById, agentName, start, stop };
});
