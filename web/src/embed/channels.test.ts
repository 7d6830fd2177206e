import { effectScope, nextTick } from "vue";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { openChatSession } from "../testing/chatSession";
import {
  activeListeners,
  constraint,
  docSnapshot,
  fakeServer,
  firebaseError,
  listenerOn,
  listenersOn,
  querySnapshot,
  resetFirebase,
  settle,
  type Call,
} from "../testing/fakeFirebase";
import { CHANNEL_LIMIT, useChannels } from "./channels";
import type { ApiChannel } from "./model";
import type { ChatSession } from "./session";

const CONVERSATIONS = "tenants/app1/conversations";
const member = (channelId: string) => `${CONVERSATIONS}/${channelId}/members/u1`;
const iso = (ms: number) => new Date(ms).toISOString();

function supportChannel(fields: Partial<ApiChannel> = {}): ApiChannel {
  return {
    id: "s1",
    kind: "support",
    name: null,
    lastMessageText: "How can we help?",
    lastMessage: { createdAt: iso(2000) },
    createdAt: iso(500),
    updatedAt: iso(1500),
    unreadCount: 0,
    ...fields,
  };
}

const group = (id: string, at: number, fields: Record<string, unknown> = {}) =>
  docSnapshot(id, { kind: "group", name: `Group ${id}`, memberIds: ["u1"], lastActivityAtMs: at, ...fields });

let server: ReturnType<typeof fakeServer>;
let mysubs: (call: Call) => { status: number; body?: unknown } | Error;
let session: ChatSession;
let scope: ReturnType<typeof effectScope>;
let list: ReturnType<typeof useChannels>;

function start(): void {
  scope = effectScope();
  list = scope.run(() => useChannels(session))!;
}

function mysubsCalls(): Call[] {
  return server.callsTo("/v1/mysubs");
}

beforeEach(async () => {
  resetFirebase();
  mysubs = () => ({ status: 200, body: { channels: [] } });
  server = fakeServer((call) =>
    call.url.endsWith("/v1/mysubs") ? mysubs(call) : { status: 200, body: { ...supportChannel(), ...call.body, id: "new" } },
  );
  vi.stubGlobal("fetch", server.fetch);
  ({ session } = await openChatSession());
});

afterEach(() => {
  scope?.stop();
  vi.useRealTimers();
});

describe("the channel list", () => {
  it("asks Firestore for the user's direct and group channels only, newest first, at most 50", () => {
    start();

    const listener = listenerOn(CONVERSATIONS);
    expect(listener.constraints.filter((c) => c.type === "where").map(({ field, op, value }) => [field, op, value])).toEqual([
      ["memberIds", "array-contains", "u1"],
      ["kind", "in", ["direct", "group"]],
    ]);
    expect(constraint(listener, "orderBy")).toMatchObject({ field: "lastActivityAtMs", direction: "desc" });
    expect(constraint(listener, "limit")?.count).toBe(CHANNEL_LIMIT);
  });

  it("adds the support channel from mysubs and sorts everything by latest activity", async () => {
    mysubs = () => ({
      status: 200,
      body: { channels: [{ ...supportChannel(), kind: "group", id: "ignored" }, supportChannel()] },
    });
    start();
    listenerOn(CONVERSATIONS).next(
      querySnapshot([
        group("g1", 3000, { name: "Team", lastMessageText: "see you" }),
        docSnapshot("d1", { kind: "direct", memberNames: { u1: "Me", u2: "Bob" }, lastActivityAtMs: 1000 }),
      ]),
    );
    await settle();

    expect(list.channels.value).toEqual([
      { id: "g1", kind: "group", name: "Team", lastMessageText: "see you", activityMs: 3000 },
      // The support channel's activity is its last message's (the newest of its stamps).
      { id: "s1", kind: "support", name: "Support", lastMessageText: "How can we help?", activityMs: 2000 },
      // A direct channel is named after the other member.
      { id: "d1", kind: "direct", name: "Bob", lastMessageText: null, activityMs: 1000 },
    ]);
  });

  it("is loaded once both the list and mysubs answered, and settled once every unread count arrived", async () => {
    mysubs = () => ({ status: 200, body: { channels: [supportChannel()] } });
    start();
    expect(list.loaded.value).toBe(false);

    listenerOn(CONVERSATIONS).next(querySnapshot([group("g1", 3000)]));
    expect(list.loaded.value).toBe(false); // mysubs has not answered
    await settle();
    expect(list.loaded.value).toBe(true);
    expect(list.settled.value).toBe(false);

    listenerOn(member("g1")).next(docSnapshot("u1", { unreadCount: 0 }));
    expect(list.settled.value).toBe(false);
    listenerOn(member("s1")).next(docSnapshot("u1", { unreadCount: 1 }));
    expect(list.settled.value).toBe(true);
  });

  it("says what went wrong, and still counts as loaded", async () => {
    mysubs = () => ({ status: 500, body: { error: { code: "internal", message: "Boom." } } });
    start();
    await settle();
    expect(list.problem.value).toBe("Your support channel could not be loaded: Boom.");

    listenerOn(CONVERSATIONS).error?.(firebaseError("permission-denied", "Missing or insufficient permissions."));
    expect(list.problem.value).toBe("Your channels could not be loaded: Missing or insufficient permissions.");
    expect(list.loaded.value).toBe(true);
  });
});

describe("unread counts", () => {
  it("come from each listed channel's own member document", async () => {
    start();
    listenerOn(CONVERSATIONS).next(querySnapshot([group("g1", 3), group("g2", 2), group("g3", 1)]));
    await settle();

    listenerOn(member("g1")).next(docSnapshot("u1", { unreadCount: 4 }));
    listenerOn(member("g2")).next(docSnapshot("u1", { unreadCount: -2 }));
    listenerOn(member("g3")).next(docSnapshot("u1"));

    expect({ ...list.unread }).toEqual({ g1: 4, g2: 0, g3: 0 });

    listenerOn(member("g1")).next(docSnapshot("u1", { unreadCount: 0 })); // read (setRead)
    expect(list.unread.g1).toBe(0);
  });

  it("a channel the user can no longer read counts 0", async () => {
    start();
    listenerOn(CONVERSATIONS).next(querySnapshot([group("g1", 3)]));
    await settle();
    listenerOn(member("g1")).next(docSnapshot("u1", { unreadCount: 2 }));

    listenerOn(member("g1")).error?.(firebaseError("permission-denied"));

    expect(list.unread.g1).toBe(0);
  });

  it("a channel leaving the list stops its listener and its count", async () => {
    start();
    listenerOn(CONVERSATIONS).next(querySnapshot([group("g1", 3), group("g2", 2)]));
    await settle();
    listenerOn(member("g2")).next(docSnapshot("u1", { unreadCount: 5 }));

    listenerOn(CONVERSATIONS).next(querySnapshot([group("g1", 3)]));
    await nextTick();

    expect(listenersOn(member("g2"))).toEqual([]);
    expect("g2" in list.unread).toBe(false);
    expect(listenersOn(member("g1"))).toHaveLength(1); // kept, not restarted
  });
});

describe("the support channel", () => {
  it("asks mysubs again when its unread count changes, once per burst", async () => {
    vi.useFakeTimers();
    mysubs = () => ({ status: 200, body: { channels: [supportChannel()] } });
    start();
    listenerOn(CONVERSATIONS).next(querySnapshot([]));
    await settle();
    expect(mysubsCalls()).toHaveLength(1);
    const support = listenerOn(member("s1"));

    support.next(docSnapshot("u1", { unreadCount: 0 })); // the first answer is no change
    support.next(docSnapshot("u1", { unreadCount: 0 })); // nor is the same count
    await vi.advanceTimersByTimeAsync(1000);
    expect(mysubsCalls()).toHaveLength(1);

    mysubs = () => ({ status: 200, body: { channels: [supportChannel({ lastMessageText: "An agent replied" })] } });
    support.next(docSnapshot("u1", { unreadCount: 1 }));
    await vi.advanceTimersByTimeAsync(100);
    support.next(docSnapshot("u1", { unreadCount: 2 }));
    await vi.advanceTimersByTimeAsync(300);
    await settle();

    expect(mysubsCalls()).toHaveLength(2);
    expect(list.channels.value[0].lastMessageText).toBe("An agent replied");
  });

  it("Contact support opens (or returns) the user's one support channel", async () => {
    start();
    await settle();

    const row = await list.openSupport();

    expect(server.callsTo("/v1/createSub")[0].body).toEqual({ support: true });
    expect(row).toMatchObject({ id: "new", kind: "support", name: "Support" });
    expect(list.support.value).toEqual(row);
    expect(list.channels.value.map((c) => c.id)).toContain("new");
  });

  it("New group creates a group by name", async () => {
    server.answer((call) =>
      call.url.endsWith("/v1/createSub")
        ? { status: 200, body: supportChannel({ id: "g9", kind: "group", name: "Book club" }) }
        : { status: 200, body: { channels: [] } },
    );
    start();

    const row = await list.createGroup("Book club");

    expect(server.callsTo("/v1/createSub")[0].body).toEqual({ name: "Book club" });
    expect(row).toMatchObject({ id: "g9", kind: "group", name: "Book club" });
  });
});

describe("disposal", () => {
  it("stops the list and every member listener, and a late mysubs answer changes nothing", async () => {
    let answer!: (value: { status: number; body: unknown }) => void;
    server.answer(() => new Promise((resolve) => (answer = resolve)) as never);
    start();
    listenerOn(CONVERSATIONS).next(querySnapshot([group("g1", 3)]));
    await nextTick();
    expect(activeListeners()).toHaveLength(2);

    scope.stop();
    answer({ status: 200, body: { channels: [supportChannel()] } });
    await settle();

    expect(activeListeners()).toEqual([]);
    expect(list.support.value).toBeNull();
  });
});
