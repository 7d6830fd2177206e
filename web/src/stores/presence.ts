/** The signed-in agent's own presence: the state they chose in the header (online or away,
 * remembered on this device), sent as a heartbeat through agent_api every HEARTBEAT_MS while the
 * dashboard is open, and "offline" when they stop it (sign-out). A closed tab sends nothing: its
 * heartbeat goes stale and everyone sees the agent offline after PRESENCE_STALE_MS. */
import { defineStore } from "pinia";
import { ref } from "vue";

import { api } from "../lib/api";
import { HEARTBEAT_MS, type PresenceState } from "../lib/presence";

const STORAGE_KEY = "switchboard.presence";

function remembered(): PresenceState {
  try {
    return window.localStorage.getItem(STORAGE_KEY) === "away" ? "away" : "online";
  } catch {
    return "online";
  }
}

export const usePresence = defineStore("presence", () => {
  const state = ref<PresenceState>(remembered());
  const failed = ref(false);
  let timer: ReturnType<typeof setInterval> | null = null;

  async function beat(): Promise<void> {
    try {
      await api.presence(state.value);
      failed.value = false;
    } catch {
      failed.value = true; // the next beat tries again; nothing to show but a dimmed dot
    }
  }

  function start(): void {
    if (timer !== null) return;
    void beat();
    timer = setInterval(() => void beat(), HEARTBEAT_MS);
  }

  async function set(next: PresenceState): Promise<void> {
    state.value = next;
    try {
      window.localStorage.setItem(STORAGE_KEY, next);
    } catch {
      /* private mode: remembered for this page only */
    }
    await beat();
  }

  function stop(sendOffline = false): void {
    if (timer !== null) clearInterval(timer);
    timer = null;
    if (sendOffline) void api.presence("offline").catch(() => undefined);
  }

  return { state, failed, start, set, stop };
});
