import { effectScope, nextTick } from "vue";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { openChatSession } from "../testing/chatSession";
import {
  activeListeners,
  allListenersOn,
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
  type FakeDoc,
} from "../testing/fakeFirebase";
import { CHANNEL_LIMIT, useChannels } from "./channels";
import type { ApiChannel } from "./model";
import type { ChatSession } from "./session";

const CONVERSATIONS = "tenants/app1/conversations";
const MEMBERS = "**/members";
const channelPath = (channelId: string) => `${CONVERSATIONS}/${channelId}`;
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

/** The user's member document of `channelId`, as the collection-group query returns it. */
const membership = (channelId: string, lastReadSeq = 0, fields: Record<string, unknown> = {}) =>
  docSnapshot("u1", { userId: "u1", tenantId: "app1", channelId, role: "member", lastReadSeq, ...fields });

const group = (id: string, at: number, fields: Record<string, unknown> = {}) =>
  docSnapshot(id, { kind: "group", name: `Group ${id}`, memberCount: 2, lastActivityAtMs: at, seq: 0, ...fields });

/** Deliver the memberships, then each channel's document. */
function deliver(...channels: FakeDoc[]): void {
  listenerOn(MEMBERS).next(querySnapshot(channels.map((channel) => membership(channel.id))));
  for (const channel of channels) listenerOn(channelPath(channel.id)).next(channel);
}

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
  it("listens to the user's own member documents of this app (one collection-group query), never to a member list", () => {
    start();

    const listener = listenerOn(MEMBERS);
    expect(listener.constraints.filter((c) => c.type === "where").map(({ field, op, value }) => [field, op, value])).toEqual([
      ["userId", "==", "u1"],
      ["tenantId", "==", "app1"],
    ]);
    expect(constraint(listener, "limit")?.count).toBe(CHANNEL_LIMIT);
    expect(listenersOn(CONVERSATIONS)).toEqual([]); // no query over the channels (no memberIds)
  });

  it("follows each membership's channel document with its own listener, memberships with a role only", async () => {
    start();
    listenerOn(MEMBERS).next(
      querySnapshot([
        membership("g1"),
        membership("g2", 0, { role: "owner" }),
        membership("gone", 0, { role: null }), // a role-less leftover is no membership
      ]),
    );
    await nextTick();

    expect(listenersOn(channelPath("g1"))).toHaveLength(1);
    expect(listenersOn(channelPath("g2"))).toHaveLength(1);
    expect(listenersOn(channelPath("gone"))).toEqual([]);
    expect(activeListeners().map((l) => l.path)).toEqual([MEMBERS, channelPath("g1"), channelPath("g2")]);
  });

  it("adds the support channel from mysubs and sorts everything by latest activity", async () => {
    mysubs = () => ({
      status: 200,
      body: { channels: [{ ...supportChannel(), kind: "group", id: "ignored" }, supportChannel()] },
    });
    start();
    await settle();
    deliver(
      group("g1", 3000, { name: "Team", lastMessageText: "see you", seq: 4, lastPost: { id: "p4", text: "see you" } }),
      docSnapshot("d1", { kind: "direct", memberNames: { u1: "Me", u2: "Bob" }, lastActivityAtMs: 1000 }),
    );
    await nextTick();

    expect(list.channels.value).toEqual([
      { id: "g1", kind: "group", name: "Team", lastMessageText: "see you", activityMs: 3000, seq: 4, lastPostId: "p4" },
      // The support channel's activity is its last message's (the newest of its stamps).
      { id: "s1", kind: "support", name: "Support", lastMessageText: "How can we help?", activityMs: 2000, seq: null, lastPostId: null },
      // A direct channel is named after the other member.
      { id: "d1", kind: "direct", name: "Bob", lastMessageText: null, activityMs: 1000, seq: 0, lastPostId: null },
    ]);
  });

  it("the list ordered by activity: a post moves its channel to the top", async () => {
    start();
    await settle();
    deliver(group("g1", 3000), group("g2", 2000), group("g3", 1000));
    await nextTick();
    expect(list.channels.value.map((c) => c.id)).toEqual(["g1", "g2", "g3"]);

    listenerOn(channelPath("g3")).next(group("g3", 4000, { seq: 1, lastMessageText: "news" }));

    expect(list.channels.value.map((c) => c.id)).toEqual(["g3", "g1", "g2"]);
    expect(list.channels.value[0].lastMessageText).toBe("news");
  });

  it("is loaded once the memberships, every channel document and mysubs have answered", async () => {
    mysubs = () => ({ status: 200, body: { channels: [supportChannel()] } });
    start();
    expect(list.loaded.value).toBe(false);

    listenerOn(MEMBERS).next(querySnapshot([membership("g1"), membership("g2"), membership("s1")]));
    await nextTick();
    listenerOn(channelPath("g1")).next(group("g1", 3000));
    expect(list.loaded.value).toBe(false); // g2 and mysubs outstanding
    listenerOn(channelPath("g2")).next(group("g2", 2000));
    expect(list.settled.value).toBe(false); // mysubs has not answered
    await settle();
    expect(list.loaded.value).toBe(true);
    expect(list.settled.value).toBe(true);

    // A new membership (a join): its document is awaited, but the list stays loaded.
    listenerOn(MEMBERS).next(querySnapshot([membership("g1"), membership("g2"), membership("s1"), membership("g3")]));
    await nextTick();
    expect(list.settled.value).toBe(false);
    expect(list.loaded.value).toBe(true);
    listenerOn(channelPath("g3")).next(group("g3", 1000));
    expect(list.settled.value).toBe(true);
  });

  it("says what went wrong, and still counts as loaded", async () => {
    mysubs = () => ({ status: 500, body: { error: { code: "internal", message: "Boom." } } });
    start();
    await settle();
    expect(list.problem.value).toBe("Your support channel could not be loaded: Boom.");

    listenerOn(MEMBERS).error?.(firebaseError("permission-denied", "Missing or insufficient permissions."));
    expect(list.problem.value).toBe("Your channels could not be loaded: Missing or insufficient permissions.");
    expect(list.loaded.value).toBe(true);
  });

  it("a channel document that is missing, unreadable or not a group/direct channel is not listed", async () => {
    start();
    await settle();
    listenerOn(MEMBERS).next(querySnapshot([membership("g1"), membership("gone"), membership("secret"), membership("s9")]));
    await nextTick();
    listenerOn(channelPath("g1")).next(group("g1", 1));
    listenerOn(channelPath("gone")).next(docSnapshot("gone"));
    listenerOn(channelPath("secret")).error?.(firebaseError("permission-denied"));
    listenerOn(channelPath("s9")).next(docSnapshot("s9", { kind: "support", lastActivityAtMs: 9 }));

    expect(list.channels.value.map((c) => c.id)).toEqual(["g1"]);
    expect(list.settled.value).toBe(true);
  });
});

describe("unread counts", () => {
  it("unread computed from the channel's seq and the user's lastReadSeq, never below 0", async () => {
    start();
    await settle();
    listenerOn(MEMBERS).next(querySnapshot([membership("g1", 2), membership("g2", 4), membership("g3", 0), membership("g4")]));
    await nextTick();
    listenerOn(channelPath("g1")).next(group("g1", 4, { seq: 5 }));
    listenerOn(channelPath("g2")).next(group("g2", 3, { seq: 1 })); // a hot channel's seq trails
    listenerOn(channelPath("g3")).next(group("g3", 2, { seq: undefined }));
    listenerOn(channelPath("g4")).next(group("g4", 1, { seq: 7 }));

    expect(list.unread.value).toEqual({ g1: 3, g2: 0, g3: 0, g4: 7 });
    expect(list.readState("g1")).toEqual({ seq: 5, lastReadSeq: 2, unread: 3, lastPostId: null });
  });

  it("the badge appears when a post arrives and goes when the channel is read", async () => {
    start();
    await settle();
    deliver(group("g1", 1, { seq: 3 }));
    listenerOn(MEMBERS).next(querySnapshot([membership("g1", 3)]));
    expect(list.unread.value.g1).toBe(0);

    listenerOn(channelPath("g1")).next(group("g1", 2, { seq: 4 })); // someone posts
    expect(list.unread.value.g1).toBe(1);
    listenerOn(channelPath("g1")).next(group("g1", 3, { seq: 5 }));
    expect(list.unread.value.g1).toBe(2);

    listenerOn(MEMBERS).next(querySnapshot([membership("g1", 5)])); // setRead moved the pointer
    expect(list.unread.value.g1).toBe(0);
  });

  it("the open channel's document is not listened to while it is open, and is again once it closes", async () => {
    start();
    await settle();
    deliver(group("g1", 3, { seq: 1 }), group("g2", 2, { seq: 5 }));

    list.focus("g1");
    await nextTick();
    expect(listenersOn(channelPath("g1"))).toEqual([]); // the posts' listener pays for what it shows
    expect(list.channels.value.map((c) => c.id)).toEqual(["g1", "g2"]); // its row stays as it was
    expect(list.readState("g1").seq).toBe(1);
    expect(listenersOn(channelPath("g2"))).toHaveLength(1); // the others are followed as before

    list.focus(null);
    await nextTick();
    expect(allListenersOn(channelPath("g1"))).toHaveLength(2); // listened to again
    listenerOn(channelPath("g1")).next(group("g1", 4, { seq: 9 }));
    expect(list.readState("g1").seq).toBe(9);
  });

  it("a channel opened before its document arrived is listened to until it has", async () => {
    start();
    await settle();
    listenerOn(MEMBERS).next(querySnapshot([membership("g1")]));
    list.focus("g1");
    await nextTick();
    expect(listenersOn(channelPath("g1"))).toHaveLength(1);
    listenerOn(channelPath("g1")).next(group("g1", 3, { seq: 2 }));
    await nextTick();
    expect(listenersOn(channelPath("g1"))).toEqual([]);
    expect(list.readState("g1").seq).toBe(2);
  });

  it("a channel leaving the list stops its listener and its count; the others are kept", async () => {
    start();
    await settle();
    deliver(group("g1", 3, { seq: 1 }), group("g2", 2, { seq: 5 }));
    expect(list.unread.value.g2).toBe(5);

    listenerOn(MEMBERS).next(querySnapshot([membership("g1")])); // left g2
    await nextTick();

    expect(listenersOn(channelPath("g2"))).toEqual([]);
    expect("g2" in list.unread.value).toBe(false);
    expect(list.channels.value.map((c) => c.id)).toEqual(["g1"]);
    expect(allListenersOn(channelPath("g1"))).toHaveLength(1); // kept, not restarted
  });
});

describe("the support channel", () => {
  const SUPPORT_POSTS = `${CONVERSATIONS}/s1/messages`;

  it("comes from mysubs with the API's unread count; its staff-only document is not listened to", async () => {
    mysubs = () => ({ status: 200, body: { channels: [supportChannel({ unreadCount: 2 })] } });
    start();
    await settle();
    listenerOn(MEMBERS).next(querySnapshot([membership("s1", 1), membership("g1")]));
    await nextTick();

    expect(listenersOn(channelPath("s1"))).toEqual([]);
    expect(list.unread.value.s1).toBe(2);
    expect(list.readState("s1")).toEqual({ seq: null, lastReadSeq: null, unread: 2, lastPostId: null });
    // Its latest visible message (the rules' filter) is the cue that something happened.
    const cue = listenerOn(SUPPORT_POSTS);
    expect(constraint(cue, "where")).toMatchObject({ field: "direction", op: "in", value: ["in", "out"] });
    expect(constraint(cue, "limitToLast")?.count).toBe(1);
  });

  it("a listener started on its document before mysubs named it is stopped, and it is listed once", async () => {
    let answer!: (value: { status: number; body: unknown }) => void;
    mysubs = () => new Promise((resolve) => (answer = resolve)) as never;
    start();
    listenerOn(MEMBERS).next(querySnapshot([membership("s1")]));
    await nextTick();
    listenerOn(channelPath("s1")).error?.(firebaseError("permission-denied"));
    await settle(); // mysubs is asked

    answer({ status: 200, body: { channels: [supportChannel()] } });
    await settle();

    expect(listenersOn(channelPath("s1"))).toEqual([]);
    expect(list.channels.value.map((c) => c.id)).toEqual(["s1"]);
    expect(list.settled.value).toBe(true);
  });

  it("asks mysubs again when a message arrives in it, once per burst", async () => {
    vi.useFakeTimers();
    mysubs = () => ({ status: 200, body: { channels: [supportChannel()] } });
    start();
    listenerOn(MEMBERS).next(querySnapshot([]));
    await settle();
    expect(mysubsCalls()).toHaveLength(1);
    const cue = listenerOn(SUPPORT_POSTS);

    cue.next(querySnapshot([docSnapshot("m1")])); // the first answer is no change
    await vi.advanceTimersByTimeAsync(1000);
    expect(mysubsCalls()).toHaveLength(1);

    mysubs = () => ({
      status: 200,
      body: { channels: [supportChannel({ lastMessageText: "An agent replied", unreadCount: 2 })] },
    });
    cue.next(querySnapshot([docSnapshot("m2")]));
    await vi.advanceTimersByTimeAsync(100);
    cue.next(querySnapshot([docSnapshot("m3")]));
    await vi.advanceTimersByTimeAsync(300);
    await settle();

    expect(mysubsCalls()).toHaveLength(2);
    expect(list.channels.value[0].lastMessageText).toBe("An agent replied");
    expect(list.unread.value.s1).toBe(2);
  });

  it("asks mysubs again when its read pointer moves (read here or elsewhere)", async () => {
    vi.useFakeTimers();
    mysubs = () => ({ status: 200, body: { channels: [supportChannel({ unreadCount: 1 })] } });
    start();
    await settle();
    listenerOn(MEMBERS).next(querySnapshot([membership("s1", 3)]));
    listenerOn(MEMBERS).next(querySnapshot([membership("s1", 3)])); // unchanged: nothing to ask
    await vi.advanceTimersByTimeAsync(1000);
    expect(mysubsCalls()).toHaveLength(1);

    mysubs = () => ({ status: 200, body: { channels: [supportChannel({ unreadCount: 0 })] } });
    listenerOn(MEMBERS).next(querySnapshot([membership("s1", 4)]));
    await vi.advanceTimersByTimeAsync(300);
    await settle();

    expect(mysubsCalls()).toHaveLength(2);
    expect(list.unread.value.s1).toBe(0);
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
  it("stops the memberships, every channel and the support cue, and a late mysubs answer changes nothing", async () => {
    let answer!: (value: { status: number; body: unknown }) => void;
    server.answer(() => new Promise((resolve) => (answer = resolve)) as never);
    start();
    listenerOn(MEMBERS).next(querySnapshot([membership("g1")]));
    await settle(); // mysubs is asked
    expect(activeListeners()).toHaveLength(2);

    scope.stop();
    answer({ status: 200, body: { channels: [supportChannel()] } });
    await settle();

    expect(activeListeners()).toEqual([]);
    expect(list.support.value).toBeNull();
  });
});
