import { effectScope, nextTick, ref, type Ref } from "vue";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { openChatSession } from "../testing/chatSession";
import { FakeXhr, resetXhr, respondWith, xhrCalls } from "../testing/fakeUpload";
import {
  allListenersOn,
  constraint,
  docSnapshot,
  fakeServer,
  firebaseError,
  listenerOn,
  querySnapshot,
  resetFirebase,
  settle,
  type Call,
  type FakeDoc,
} from "../testing/fakeFirebase";
import type { ChannelRow, ReadState } from "./model";
import type { ChatSession } from "./session";
import { POST_LIMIT, READ_INTERVAL_MS, useThread } from "./thread";

const GROUP: ChannelRow = { id: "g1", kind: "group", name: "Team", lastMessageText: null, activityMs: 0, seq: 0, lastPostId: null };
const SUPPORT: ChannelRow = { id: "s1", kind: "support", name: "Support", lastMessageText: null, activityMs: 0, seq: null, lastPostId: null };
const POSTS = "tenants/app1/conversations/g1/messages";

type Answer = { status: number; body?: unknown } | Error | Promise<{ status: number; body?: unknown }>;

let visibility: DocumentVisibilityState = "visible";
Object.defineProperty(document, "visibilityState", { configurable: true, get: () => visibility });

let server: ReturnType<typeof fakeServer>;
let answers: Record<string, (call: Call) => Answer>;
let session: ChatSession;
let scope: ReturnType<typeof effectScope> | undefined;
let read: Ref<ReadState>;
let notify: ReturnType<typeof vi.fn<(text: string) => void>>;

/** Open `channel` with this read state (by default: nothing unread, seq 0). */
function open(channel: ChannelRow = GROUP, state: Partial<ReadState> = {}) {
  read = ref({ seq: 0, lastReadSeq: 0, unread: 0, lastPostId: null, ...state }) as Ref<ReadState>;
  scope = effectScope();
  return scope.run(() => useThread(session, channel, read, notify))!;
}

/** What the list's listeners report: the channel document's seq and the member's lastReadSeq. */
async function moveTo(seq: number, lastReadSeq = read.value.lastReadSeq ?? 0): Promise<void> {
  read.value = { ...read.value, seq, lastReadSeq, unread: Math.max(0, seq - lastReadSeq) };
  await nextTick();
}

function setReads(): Record<string, unknown>[] {
  return callsOf("setRead").map((call) => call.body);
}

function post(id: string, fields: Record<string, unknown> = {}): FakeDoc {
  return docSnapshot(id, {
    text: `text ${id}`,
    sender: { kind: "user", id: "u2", name: "Bob" },
    createdAt: { toDate: () => new Date(Date.UTC(2026, 0, 1)) },
    ...fields,
  });
}

function callsOf(operation: string): Call[] {
  return server.callsTo(`/v1/${operation}`);
}

beforeEach(async () => {
  resetFirebase();
  visibility = "visible";
  notify = vi.fn<(text: string) => void>();
  answers = {};
  server = fakeServer((call) => {
    const operation = call.url.split("/v1/")[1]!;
    return answers[operation]?.(call) ?? { status: 200, body: {} };
  });
  vi.stubGlobal("fetch", server.fetch);
  ({ session } = await openChatSession());
});

afterEach(() => {
  scope?.stop();
  scope = undefined;
  vi.useRealTimers();
});

describe("the posts", () => {
  it("are the channel's last 50, oldest first", () => {
    open();

    const listener = listenerOn(POSTS);
    expect(constraint(listener, "orderBy")).toMatchObject({ field: "createdAt", direction: "asc" });
    expect(constraint(listener, "limitToLast")?.count).toBe(POST_LIMIT);
    expect(constraint(listener, "where")).toBeUndefined();
  });

  it("in a support channel, only what the customer and the agents said (never agents' notes)", () => {
    open(SUPPORT);

    const listener = listenerOn("tenants/app1/conversations/s1/messages");
    expect(constraint(listener, "where")).toMatchObject({ field: "direction", op: "in", value: ["in", "out"] });
  });

  it("show who said what, when, and the likes", () => {
    const thread = open();
    listenerOn(POSTS).next(
      querySnapshot([
        post("p1", { likes: 2, likedBy: { u1: true, u2: true } }),
        post("p2", { sender: { kind: "agent", id: "agent-7" }, text: undefined, content: { text: "Hello from support" } }),
        post("p3", { sender: {}, text: undefined, type: "image", createdAt: null, likes: -1 }),
      ]),
    );

    expect(thread.loaded.value).toBe(true);
    expect(thread.posts.value).toEqual([
      expect.objectContaining({ id: "p1", senderName: "Bob", senderKind: "user", text: "text p1", likes: 2, likedByMe: true }),
      expect.objectContaining({ id: "p2", senderName: "agent-7", senderKind: "agent", text: "Hello from support", likedByMe: false }),
      expect.objectContaining({ id: "p3", senderName: "Someone", senderKind: "system", text: "[image]", createdAt: null, likes: 0 }),
    ]);
    expect(thread.posts.value[0].createdAt?.toISOString()).toBe("2026-01-01T00:00:00.000Z");
  });

  it("say when they cannot be loaded", () => {
    const thread = open();
    listenerOn(POSTS).error?.(firebaseError("permission-denied", "Missing or insufficient permissions."));

    expect(thread.problem.value).toBe("The posts could not be loaded: Missing or insufficient permissions.");
    expect(thread.loaded.value).toBe(true);
  });
});

describe("sending: pending, then the live post", () => {
  it("shows the post at once and replaces it by the live one with its clientPostId", async () => {
    const thread = open();
    listenerOn(POSTS).next(querySnapshot([post("p1")]));

    thread.send("Hi all");

    expect(thread.pending.value).toEqual([{ clientPostId: expect.stringMatching(/^w-[0-9a-f]{24}$/), text: "Hi all", failed: null }]);
    const { clientPostId } = thread.pending.value[0];
    await settle();
    expect(callsOf("createPost")[0].body).toEqual({ channelId: "g1", text: "Hi all", clientPostId });
    expect(thread.pending.value).toHaveLength(1); // sent, not yet delivered by the listener

    listenerOn(POSTS).next(querySnapshot([post("p1"), post("p2", { clientPostId, sender: { kind: "user", id: "u1" } })]));

    expect(thread.pending.value).toEqual([]);
    expect(thread.posts.value.map((p) => p.id)).toEqual(["p1", "p2"]);
  });

  it("each send gets its own clientPostId, in order", () => {
    const thread = open();
    thread.send("one");
    thread.send("two");

    const [first, second] = thread.pending.value;
    expect([first.text, second.text]).toEqual(["one", "two"]);
    expect(first.clientPostId).not.toBe(second.clientPostId);
  });

  it("a refusal is shown as the reason itself", async () => {
    answers.createPost = () => ({ status: 400, body: { error: { code: "text_too_long", message: "The text is too long." } } });
    const thread = open();

    thread.send("x".repeat(5000));
    await settle();

    expect(thread.pending.value[0].failed).toBe("The text is too long.");
  });

  it("a transient failure says it was not sent, and Retry sends the same clientPostId", async () => {
    answers.createPost = () => ({ status: 503, body: { error: { code: "unavailable", message: "Try again shortly." } } });
    const thread = open();
    thread.send("hello");
    await settle();
    const [entry] = thread.pending.value;
    expect(entry.failed).toBe("Try again shortly. (not sent)");

    let finish!: (answer: { status: number; body: unknown }) => void;
    answers.createPost = () => new Promise((resolve) => (finish = resolve));
    thread.retry(entry.clientPostId);
    await settle();
    expect(thread.pending.value[0].failed).toBeNull(); // sending again
    finish({ status: 200, body: { id: "p9" } });
    await settle();

    const sent = callsOf("createPost").map((call) => call.body.clientPostId);
    expect(sent).toEqual([entry.clientPostId, entry.clientPostId]);
    expect(thread.pending.value[0].failed).toBeNull();
  });

  it("an unreachable server says so, not sent", async () => {
    answers.createPost = () => new Error("offline");
    const thread = open();

    thread.send("hello");
    await settle();

    expect(thread.pending.value[0].failed).toBe("Could not reach the server. Check your connection and retry. (not sent)");
  });

  it("a session that has ended (401) is said as final, not as 'not sent'", async () => {
    answers.createPost = () => ({ status: 401, body: { error: { code: "unauthenticated", message: "invalid ID token" } } });
    const thread = open();

    thread.send("hello");
    await settle();

    expect(thread.pending.value[0].failed).toBe("Your chat session has ended: reload the page to sign in again.");
  });

  it("a live post that arrived before the failure leaves nothing pending", async () => {
    let fail!: (answer: { status: number; body: unknown }) => void;
    answers.createPost = () => new Promise((resolve) => (fail = resolve));
    const thread = open();
    thread.send("hello");
    const { clientPostId } = thread.pending.value[0];
    await settle();

    listenerOn(POSTS).next(querySnapshot([post("p1", { clientPostId })]));
    fail({ status: 504, body: {} });
    await settle();

    expect(thread.pending.value).toEqual([]);
  });

  it("Discard drops a failed post", async () => {
    answers.createPost = () => ({ status: 503 });
    const thread = open();
    thread.send("one");
    thread.send("two");
    await settle();

    thread.discard(thread.pending.value[0].clientPostId);

    expect(thread.pending.value.map((p) => p.text)).toEqual(["two"]);
  });
});

describe("image and file posts", () => {
  const uploadAnswer = (call: Call) => ({
    status: 200,
    body: {
      url: "http://storage.test/b/o?X-Goog-Signature=s",
      method: "POST",
      headers: { "x-goog-resumable": "start", "Content-Type": call.body.contentType, "x-goog-content-length-range": `0,${call.body.size}` },
      path: `tenants/app1/uploads/me/u1/${call.body.fileName}`,
      fileName: call.body.fileName,
      contentType: call.body.contentType,
      size: call.body.size,
      expiresAt: "2026-12-07T10:15:00Z",
    },
  });

  beforeEach(() => {
    resetXhr();
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    answers.uploadUrl = uploadAnswer;
  });

  it("a picture is uploaded straight to storage, then posted as an image with the caption", async () => {
    const thread = open();
    thread.sendFile(new File([new Uint8Array(300)], "lid.png", { type: "image/png" }), "The lid");
    expect(thread.pending.value[0]).toMatchObject({ fileName: "lid.png", kind: "image", text: "The lid" });
    await settle();

    expect(callsOf("uploadUrl")[0].body).toEqual({ channelId: "g1", fileName: "lid.png", contentType: "image/png", size: 300 });
    expect(xhrCalls.map((c) => c.method)).toEqual(["POST", "PUT"]);
    expect(callsOf("createPost")[0].body).toEqual({
      channelId: "g1",
      type: "image",
      attachment: { path: "tenants/app1/uploads/me/u1/lid.png", fileName: "lid.png", contentType: "image/png", size: 300 },
      clientPostId: thread.pending.value[0].clientPostId,
      text: "The lid",
    });
  });

  it("any other file is a file post; a failed upload says why and Retry uploads again", async () => {
    respondWith((call) => call.xhr.answer(403));
    const thread = open();
    thread.sendFile(new File(["%PDF-1.4"], "invoice.pdf", { type: "application/pdf" }));
    await settle();
    expect(thread.pending.value[0].failed).toMatch(/expired or was refused/);
    expect(callsOf("createPost")).toHaveLength(0);

    respondWith(null);
    thread.retry(thread.pending.value[0].clientPostId);
    await settle();
    expect(callsOf("createPost")[0].body).toMatchObject({ type: "file", attachment: { fileName: "invoice.pdf" } });
    expect(callsOf("createPost")[0].body.text).toBeUndefined();
  });

  it("a post's files are read from content.media and shown through mediaUrl", async () => {
    answers.mediaUrl = () => ({ status: 200, body: { url: "http://storage.test/signed", expiresAt: new Date(Date.now() + 300_000).toISOString(), contentType: "image/png", variant: "thumbnail" } });
    const thread = open();
    listenerOn(POSTS).next(
      querySnapshot([post("p1", { type: "image", text: null, content: { type: "image", media: [{ state: "stored", path: "x", contentType: "image/png", size: 10, fileName: "a.png", thumbnailPath: "x.thumb.jpg" }] } })]),
    );
    const [shown] = thread.posts.value;
    expect(shown.type).toBe("image");
    expect(shown.text).toBe("");
    expect(shown.media[0]).toMatchObject({ index: 0, state: "stored", fileName: "a.png", hasThumbnail: true });

    expect(await thread.mediaUrl("p1", 0, "thumbnail")).toBe("http://storage.test/signed");
    expect(await thread.mediaUrl("p1", 0, "thumbnail")).toBe("http://storage.test/signed");
    expect(callsOf("mediaUrl").map((c) => c.body)).toEqual([{ channelId: "g1", postId: "p1", index: 0, variant: "thumbnail" }]);
  });
});

describe("likes", () => {
  it("likePost names the channel and the post", async () => {
    const thread = open();
    await thread.like("p1");
    expect(callsOf("likePost")[0].body).toEqual({ channelId: "g1", postId: "p1" });
    expect(notify).not.toHaveBeenCalled();
  });

  it("a failed like is told in a notice", async () => {
    answers.likePost = () => ({ status: 404, body: { error: { code: "post_not_found", message: "That post is gone." } } });
    const thread = open();

    await thread.like("p1");

    expect(notify).toHaveBeenCalledWith("Could not like the post: That post is gone.");
  });
});

describe("read state", () => {
  it("unread posts in the open channel are marked read at once, with the seq seen and viewing: true", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 5, lastReadSeq: 2, unread: 3 });

    await vi.advanceTimersByTimeAsync(0);
    await settle();

    expect(setReads()).toEqual([{ channelId: "g1", seq: 5, viewing: true }]);
  });

  it("no setRead when nothing new was seen, while open or on close", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 3, lastReadSeq: 3 });
    await vi.advanceTimersByTimeAsync(10_000);
    scope!.stop();
    scope = undefined;
    await vi.advanceTimersByTimeAsync(10_000);

    expect(callsOf("setRead")).toEqual([]);
  });

  it("a post of the user's own (seq and their lastReadSeq move together) is not read again", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 3, lastReadSeq: 3 });
    read.value = { ...read.value, seq: 4, lastReadSeq: 3, unread: 1 }; // the channel document's snapshot...
    read.value = { ...read.value, seq: 4, lastReadSeq: 4, unread: 0 }; // ...and the member's, in the same tick
    await nextTick();
    await vi.advanceTimersByTimeAsync(10_000);

    expect(callsOf("setRead")).toEqual([]);
  });

  it(`setRead at most once per ${READ_INTERVAL_MS / 1000} s under a burst, each with the latest seq seen`, async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 1, lastReadSeq: 0, unread: 1 });
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(setReads()).toEqual([{ channelId: "g1", seq: 1, viewing: true }]);

    // 10 posts a second for 5.9 s (the member listener follows each setRead).
    for (let seq = 2; seq <= 60; seq++) {
      await vi.advanceTimersByTimeAsync(100);
      await moveTo(seq);
    }
    await settle();
    expect(setReads().map((body) => body.seq)).toEqual([1, 30]); // at 0 s and 3 s

    await vi.advanceTimersByTimeAsync(100);
    await settle();
    expect(setReads().map((body) => body.seq)).toEqual([1, 30, 60]); // at 6 s
    expect(setReads().every((body) => body.viewing === true)).toBe(true);

    await vi.advanceTimersByTimeAsync(30_000); // nothing more arrives: nothing more is sent
    expect(callsOf("setRead")).toHaveLength(3);
  });

  it("one setRead on close: the seq seen, viewing: false, kept alive past the page", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 5, lastReadSeq: 2, unread: 3 });
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    await moveTo(6, 5); // read up to 5; a post arrives, its setRead waits for the interval

    scope!.stop();
    scope = undefined;
    await vi.advanceTimersByTimeAsync(10_000);
    await settle();

    const calls = callsOf("setRead");
    expect(calls.map((call) => call.body)).toEqual([
      { channelId: "g1", seq: 5, viewing: true },
      { channelId: "g1", seq: 6, viewing: false },
    ]);
    expect(calls[1].init.keepalive).toBe(true);
    expect(calls[1].headers.Authorization).toBe("Bearer id-token");
  });

  it("closing after reading ends the viewing with one setRead even when nothing new arrived", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 5, lastReadSeq: 2, unread: 3 });
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    await moveTo(5, 5);

    scope!.stop();
    scope = undefined;
    await settle();

    expect(setReads()).toEqual([
      { channelId: "g1", seq: 5, viewing: true },
      { channelId: "g1", seq: 5, viewing: false },
    ]);
  });

  it("hiding the page sends one setRead (viewing: false); posts while hidden wait until it is shown", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 2, lastReadSeq: 1, unread: 1 });
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    await moveTo(3, 2); // seen, its setRead not yet due

    visibility = "hidden";
    document.dispatchEvent(new Event("visibilitychange"));
    await settle();
    expect(setReads()).toEqual([
      { channelId: "g1", seq: 2, viewing: true },
      { channelId: "g1", seq: 3, viewing: false },
    ]);
    expect(callsOf("setRead")[1].init.keepalive).toBe(true);

    await moveTo(4, 3); // arrives while hidden: not seen
    await vi.advanceTimersByTimeAsync(10_000);
    window.dispatchEvent(new Event("pagehide"));
    scope!.stop();
    scope = undefined;
    await settle();
    expect(callsOf("setRead")).toHaveLength(2);
  });

  it("the page shown again reads what arrived while it was hidden", async () => {
    vi.useFakeTimers();
    visibility = "hidden";
    open(GROUP, { seq: 4, lastReadSeq: 2, unread: 2 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(callsOf("setRead")).toEqual([]);

    visibility = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(0);
    await settle();

    expect(setReads()).toEqual([{ channelId: "g1", seq: 4, viewing: true }]);
  });

  it("leaving the page (pagehide) sends the last setRead once", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 4, lastReadSeq: 1, unread: 3 });
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    await moveTo(5, 4);

    window.dispatchEvent(new Event("pagehide"));
    scope!.stop(); // the widget goes with the page
    scope = undefined;
    await vi.advanceTimersByTimeAsync(10_000);
    await settle();

    expect(setReads()).toEqual([
      { channelId: "g1", seq: 4, viewing: true },
      { channelId: "g1", seq: 5, viewing: false },
    ]);
  });

  it("counts the posts on screen that the channel's seq has not counted yet (a hot channel folds it later)", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 2, lastReadSeq: 2, lastPostId: "p2" });
    listenerOn(POSTS).next(querySnapshot([post("p1"), post("p2")]));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(callsOf("setRead")).toEqual([]); // everything shown is counted and read

    // Two posts by others show up; the channel document still says seq 2, last counted p2.
    listenerOn(POSTS).next(querySnapshot([post("p1"), post("p2"), post("p3"), post("p4")]));
    await nextTick();
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(setReads()).toEqual([{ channelId: "g1", seq: 4, viewing: true }]);

    // The fold catches up: nothing new.
    read.value = { ...read.value, seq: 4, lastReadSeq: 4, lastPostId: "p4" };
    await nextTick();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(callsOf("setRead")).toHaveLength(1);

    // One more shows and the reader leaves before the fold: it was seen, so it is read.
    listenerOn(POSTS).next(querySnapshot([post("p1"), post("p2"), post("p3"), post("p4"), post("p5")]));
    await nextTick();
    scope!.stop();
    scope = undefined;
    await settle();
    expect(setReads()[1]).toEqual({ channelId: "g1", seq: 5, viewing: false });
  });

  it("never sends a seq below the user's own pointer (a hot channel's seq trails their post)", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 3, lastReadSeq: 3 });
    await moveTo(5, 3); // two posts by others...
    await moveTo(5, 6); // ...and one of the user's own, whose seq the channel has not folded yet
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(callsOf("setRead")).toEqual([]); // nothing beyond the pointer

    await moveTo(7, 6);
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(setReads()).toEqual([{ channelId: "g1", seq: 7, viewing: true }]);
  });

  it("a seq that rises during a call is marked once the call is done", async () => {
    vi.useFakeTimers();
    let finish!: (answer: { status: number; body: unknown }) => void;
    answers.setRead = () => new Promise((resolve) => (finish = resolve));
    open(GROUP, { seq: 1, lastReadSeq: 0, unread: 1 });
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(callsOf("setRead")).toHaveLength(1);

    await moveTo(2, 0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(callsOf("setRead")).toHaveLength(1); // still in flight

    answers.setRead = () => ({ status: 200, body: {} });
    finish({ status: 200, body: {} });
    await settle();
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(setReads().map((body) => body.seq)).toEqual([1, 2]);
  });

  it("a failed setRead is told in a notice, and the next post tries again", async () => {
    vi.useFakeTimers();
    answers.setRead = () => ({ status: 500 });
    open(GROUP, { seq: 1, lastReadSeq: 0, unread: 1 });

    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(notify).toHaveBeenCalledWith("Could not mark the channel read: The server answered 500.");

    answers.setRead = () => ({ status: 200, body: {} });
    await moveTo(2, 0);
    await vi.advanceTimersByTimeAsync(READ_INTERVAL_MS);
    await settle();
    expect(setReads().map((body) => body.seq)).toEqual([1, 2]);
  });

  it("the support channel (its seq is not readable): setRead without a seq when its unread count rises", async () => {
    vi.useFakeTimers();
    open(SUPPORT, { seq: null, lastReadSeq: null, unread: 1 });
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(setReads()).toEqual([{ channelId: "s1", viewing: true }]);

    read.value = { ...read.value, unread: 0 }; // mysubs after the read
    await nextTick();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(callsOf("setRead")).toHaveLength(1);

    read.value = { ...read.value, unread: 1 }; // an agent replied
    await nextTick();
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(setReads()).toEqual([
      { channelId: "s1", viewing: true },
      { channelId: "s1", viewing: true },
    ]);

    scope!.stop();
    scope = undefined;
    await settle();
    expect(setReads()[2]).toEqual({ channelId: "s1", viewing: false });
  });
});

describe("leaving the channel", () => {
  it("stops the posts listener, the read timer and the page listeners", async () => {
    vi.useFakeTimers();
    open(GROUP, { seq: 0, lastReadSeq: 0 });
    scope!.stop();
    scope = undefined;

    await moveTo(4, 0);
    document.dispatchEvent(new Event("visibilitychange"));
    window.dispatchEvent(new Event("pagehide"));
    await vi.advanceTimersByTimeAsync(10_000);

    expect(allListenersOn(POSTS).every((listener) => !listener.active)).toBe(true);
    expect(callsOf("setRead")).toEqual([]);
  });
});
