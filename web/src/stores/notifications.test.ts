import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { allListenersOn, constraint, docSnapshot, emitAuth, fakeServer, fakeUser, listenerOn, querySnapshot, resetFirebase } from "../testing/fakeFirebase";
import { TOAST_MS, useNotifications } from "./notifications";

initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: "https://api.test/agent_api", create_app: "c", chat_api: "x" } });

const FEED = "tenants/t1/agents/u1/notifications";
let notifications: ReturnType<typeof useNotifications>;
let server: ReturnType<typeof fakeServer>;

function entry(id: string, fields: Record<string, unknown> = {}) {
  return docSnapshot(id, { event: "mention", conversationId: "c1", title: `T ${id}`, body: "b", read: false, quiet: false, createdAtMs: 1, ...fields });
}

beforeEach(() => {
  resetFirebase();
  setActivePinia(createPinia());
  server = fakeServer(() => ({ status: 200, body: { marked: 1 } }));
  vi.stubGlobal("fetch", server.fetch);
  emitAuth(fakeUser({ uid: "u1" }));
  vi.useFakeTimers();
  notifications = useNotifications();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("agent notifications", () => {
  it("listens to the agent's own feed, newest first, and counts the unread", () => {
    notifications.start("t1", "u1");
    const feed = listenerOn(FEED);
    expect(constraint(feed, "orderBy", "createdAtMs")?.direction).toBe("desc");
    expect(constraint(feed, "limit")?.count).toBe(30);
    feed.next(querySnapshot([entry("n2"), entry("n1", { read: true })]));
    expect(notifications.items.map((n) => n.id)).toEqual(["n2", "n1"]);
    expect(notifications.unread).toBe(1);
  });

  it("toasts what arrives after the first snapshot, never what was already there nor quiet ones", () => {
    notifications.start("t1", "u1");
    const feed = listenerOn(FEED);
    feed.next(querySnapshot([entry("old")]));
    expect(notifications.toasts).toEqual([]);
    feed.next(querySnapshot([entry("new", { title: "Dana mentioned you" }), entry("hush", { quiet: true }), entry("old")]));
    expect(notifications.toasts.map((t) => t.title)).toEqual(["Dana mentioned you"]);
    expect(notifications.unread).toBe(3); // quiet ones still count
    vi.advanceTimersByTime(TOAST_MS);
    expect(notifications.toasts).toEqual([]);
  });

  it("marks a notification read on the server and at once on screen", async () => {
    notifications.start("t1", "u1");
    listenerOn(FEED).next(querySnapshot([entry("n1")]));
    await notifications.markRead("n1");
    expect(notifications.unread).toBe(0);
    expect(server.calls[0].body).toEqual({ action: "mark_notifications_read", notificationIds: ["n1"] });
    await notifications.markAllRead();
    expect(server.calls[1].body).toEqual({ action: "mark_notifications_read" });
  });

  it("saves preferences through agent_api", async () => {
    server.answer((call) => ({ status: 200, body: call.body.action === "notification_settings" ? { events: { mention: true }, quietHours: { enabled: false, start: "22:00", end: "07:00", timeZone: "UTC" }, browsers: 2 } : { events: call.body.events, quietHours: call.body.quietHours } }));
    expect((await notifications.loadSettings()).browsers).toBe(2);
    const quietHours = { enabled: true, start: "21:00", end: "08:00", timeZone: "Europe/Paris" };
    const events = { new_conversation: false, message: true, mention: true, assigned: true };
    await notifications.saveSettings({ events, quietHours });
    expect(server.calls[1].body).toEqual({ action: "save_notification_settings", events, quietHours });
    expect(notifications.settings).toEqual({ events, quietHours, browsers: 2 });
  });

  it("stops listening and forgets everything on sign-out", () => {
    notifications.start("t1", "u1");
    listenerOn(FEED).next(querySnapshot([entry("n1")]));
    notifications.stop();
    expect(notifications.items).toEqual([]);
    expect(allListenersOn(FEED).every((l) => !l.active)).toBe(true);
  });
});
