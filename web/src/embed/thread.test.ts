import { effectScope, nextTick, ref } from "vue";
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
import type { ChannelRow } from "./model";
import type { ChatSession } from "./session";
import { POST_LIMIT, useThread } from "./thread";

const GROUP: ChannelRow = { id: "g1", kind: "group", name: "Team", lastMessageText: null, activityMs: 0 };
const SUPPORT: ChannelRow = { id: "s1", kind: "support", name: "Support", lastMessageText: null, activityMs: 0 };
const POSTS = "tenants/app1/conversations/g1/messages";

type Answer = { status: number; body?: unknown } | Error | Promise<{ status: number; body?: unknown }>;

let visibility: DocumentVisibilityState = "visible";
Object.defineProperty(document, "visibilityState", { configurable: true, get: () => visibility });

let server: ReturnType<typeof fakeServer>;
let answers: Record<string, (call: Call) => Answer>;
let session: ChatSession;
let scope: ReturnType<typeof effectScope> | undefined;
let unread: ReturnType<typeof ref<number>>;
let notify: ReturnType<typeof vi.fn<(text: string) => void>>;

function open(channel: ChannelRow = GROUP, unreadCount = 0) {
  unread = ref(unreadCount);
  scope = effectScope();
  return scope.run(() => useThread(session, channel, unread as never, notify))!;
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
  it("unread posts in the open channel are marked read at once", async () => {
    vi.useFakeTimers();
    open(GROUP, 3);

    await vi.advanceTimersByTimeAsync(0);
    await settle();

    expect(callsOf("setRead").map((call) => call.body)).toEqual([{ channelId: "g1" }]);
  });

  it("nothing is written while there is nothing unread", async () => {
    vi.useFakeTimers();
    open(GROUP, 0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(callsOf("setRead")).toEqual([]);
  });

  it("posts arriving while it is open are marked read at most every 2 s", async () => {
    vi.useFakeTimers();
    open(GROUP, 1);
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    unread.value = 0; // the member listener reports the read

    await vi.advanceTimersByTimeAsync(500);
    unread.value = 1;
    await nextTick();
    await vi.advanceTimersByTimeAsync(1000);
    unread.value = 2;
    await nextTick();
    expect(callsOf("setRead")).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(500);
    await settle();
    expect(callsOf("setRead")).toHaveLength(2);
  });

  it("waits while the page is hidden, then marks read when it is shown", async () => {
    vi.useFakeTimers();
    visibility = "hidden";
    open(GROUP, 2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(callsOf("setRead")).toEqual([]);

    visibility = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(0);
    await settle();

    expect(callsOf("setRead")).toHaveLength(1);
  });

  it("a count that rises during a call is marked once the call is done", async () => {
    vi.useFakeTimers();
    let finish!: (answer: { status: number; body: unknown }) => void;
    answers.setRead = () => new Promise((resolve) => (finish = resolve));
    open(GROUP, 1);
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(callsOf("setRead")).toHaveLength(1);

    unread.value = 2;
    await nextTick();
    await vi.advanceTimersByTimeAsync(5000);
    expect(callsOf("setRead")).toHaveLength(1); // still in flight

    answers.setRead = () => ({ status: 200, body: {} });
    finish({ status: 200, body: {} });
    await settle();
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(callsOf("setRead")).toHaveLength(2);
  });

  it("a failed setRead is told in a notice", async () => {
    vi.useFakeTimers();
    answers.setRead = () => ({ status: 500 });
    open(GROUP, 1);

    await vi.advanceTimersByTimeAsync(0);
    await settle();

    expect(notify).toHaveBeenCalledWith("Could not mark the channel read: The server answered 500.");
  });
});

describe("leaving the channel", () => {
  it("stops the posts listener, the read timer and the visibility listener", async () => {
    vi.useFakeTimers();
    open(GROUP, 0);
    scope!.stop();
    scope = undefined;

    unread.value = 4;
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(10_000);

    expect(allListenersOn(POSTS).every((listener) => !listener.active)).toBe(true);
    expect(callsOf("setRead")).toEqual([]);
  });
});
