import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const sent = vi.hoisted(() => ({ states: [] as string[], fail: false }));
vi.mock("../lib/api", () => ({
  api: {
    presence: async (state: string) => {
      sent.states.push(state);
      if (sent.fail) throw new Error("offline");
      return { state, lastSeenMs: Date.now() };
    },
  },
}));

import { HEARTBEAT_MS, PRESENCE_STALE_MS, presenceOf } from "../lib/presence";
import { usePresence } from "./presence";

beforeEach(() => {
  vi.useFakeTimers();
  sent.states = [];
  sent.fail = false;
  window.localStorage.clear();
  setActivePinia(createPinia());
});

afterEach(() => {
  usePresence().stop();
  vi.useRealTimers();
});

describe("presence", () => {
  it("beats at once and then every HEARTBEAT_MS with the chosen state, once however often started", async () => {
    const presence = usePresence();
    presence.start();
    presence.start();
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS * 2);
    expect(sent.states).toEqual(["online", "online", "online"]);
  });

  it("sends a new choice at once, remembers it on this device, and says offline on sign-out", async () => {
    const presence = usePresence();
    presence.start();
    await presence.set("away");
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(sent.states).toEqual(["online", "away", "away"]);
    setActivePinia(createPinia());
    expect(usePresence().state).toBe("away");
    presence.stop(true);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS * 3);
    expect(sent.states.at(-1)).toBe("offline");
    expect(sent.states).toHaveLength(4);
  });

  it("keeps beating after a failed heartbeat and clears the failure when one gets through", async () => {
    const presence = usePresence();
    sent.fail = true;
    presence.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(presence.failed).toBe(true);
    sent.fail = false;
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(presence.failed).toBe(false);
  });

  it("reads others' presence like the server: offline once the heartbeat is stale or never came", () => {
    const now = 1_000_000;
    expect(presenceOf({ state: "online", lastSeenMs: now - 1000 }, now)).toBe("online");
    expect(presenceOf({ state: "away", lastSeenMs: now }, now)).toBe("away");
    expect(presenceOf({ state: "online", lastSeenMs: now - PRESENCE_STALE_MS - 1 }, now)).toBe("offline");
    expect(presenceOf({ state: "offline", lastSeenMs: now }, now)).toBe("offline");
    expect(presenceOf(undefined, now)).toBe("offline");
  });
});
