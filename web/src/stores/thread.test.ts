import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import {
  allListenersOn,
  constraint,
  docSnapshot,
  fakeAuth,
  fakeServer,
  fakeUser,
  listenerOn,
  querySnapshot,
  resetFirebase,
  settle,
  type Call,
  type FakeDoc,
} from "../testing/fakeFirebase";
import { useNotices } from "./notices";
import { MESSAGE_PAGE, useThread } from "./thread";

const FUNCTIONS = { send_message: "http://f.test/send_message", agent_api: "http://f.test/agent_api", create_app: "c", chat_api: "x" };
initFirebase({ projectId: "demo", apiKey: "k", functions: FUNCTIONS });

const CONVERSATION = "tenants/t1/conversations/c1";
const MESSAGES = `${CONVERSATION}/messages`;

function message(id: string, sentAt: number, fields: Record<string, unknown> = {}): FakeDoc {
  return docSnapshot(id, { direction: "in", type: "text", text: `text ${id}`, status: "received", sentAt, ...fields });
}

/** What the messages listener delivers: newest first (orderBy sentAt desc). */
function newestFirst(...docs: FakeDoc[]) {
  return querySnapshot(docs);
}

let visibility: DocumentVisibilityState = "visible";
Object.defineProperty(document, "visibilityState", { configurable: true, get: () => visibility });

let server: ReturnType<typeof fakeServer>;
let sendAnswer: (call: Call) => { status: number; body?: unknown } | Error;
let thread: ReturnType<typeof useThread>;

beforeEach(() => {
  resetFirebase();
  visibility = "visible";
  fakeAuth.currentUser = fakeUser({ uid: "agent-1" });
  sendAnswer = () => ({ status: 200, body: { messageId: "m", status: "queued", created: true } });
  server = fakeServer((call) => (call.url === FUNCTIONS.send_message ? sendAnswer(call) : { status: 200, body: {} }));
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
  thread = useThread();
  thread.setTenant("t1");
});

afterEach(() => {
  thread.reset();
  vi.useRealTimers();
});

describe("opening a conversation", () => {
  it("listens to its document and its latest messages, shown oldest first", () => {
    thread.open("c1");

    listenerOn(CONVERSATION).next(docSnapshot("c1", { channel: "whatsapp", contactName: "Ana", status: "open" }));
    const messages = listenerOn(MESSAGES);
    expect(constraint(messages, "orderBy")).toMatchObject({ field: "sentAt", direction: "desc" });
    expect(constraint(messages, "limit")?.count).toBe(MESSAGE_PAGE);
    messages.next(newestFirst(message("m3", 3000), message("m2", 2000), message("m1", 1000)));

    expect(thread.conversation).toMatchObject({ id: "c1", contactName: "Ana", channel: "whatsapp" });
    expect(thread.messages.map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
    expect(thread.messagesLoaded).toBe(true);
    expect(thread.truncated).toBe(false);
  });

  it("says so when the conversation does not exist", () => {
    thread.open("c1");
    listenerOn(CONVERSATION).next(docSnapshot("c1"));

    expect(thread.missing).toBe(true);
    expect(thread.conversation).toBeNull();
  });

  it("switching conversations stops the old listeners and starts empty", () => {
    thread.open("c1");
    listenerOn(MESSAGES).next(newestFirst(message("m1", 1000)));

    thread.open("c2");

    expect(allListenersOn(MESSAGES).every((listener) => !listener.active)).toBe(true);
    expect(allListenersOn(CONVERSATION).every((listener) => !listener.active)).toBe(true);
    expect(thread.conversationId).toBe("c2");
    expect(thread.messages).toEqual([]);
    expect(thread.messagesLoaded).toBe(false);
    expect(listenerOn("tenants/t1/conversations/c2/messages")).toBeDefined();
  });

  it("opening the open conversation again changes nothing", () => {
    thread.open("c1");
    thread.open("c1");
    expect(allListenersOn(MESSAGES)).toHaveLength(1);
  });

  it("turns listener errors into notices", () => {
    const notices = useNotices();
    thread.open("c1");
    listenerOn(CONVERSATION).error?.({ code: "permission-denied", message: "" });
    listenerOn(MESSAGES).error?.({ code: "unavailable", message: "" });

    expect(notices.items.map((n) => [n.kind, n.text])).toEqual([
      ["error", "This conversation could not be loaded (permission-denied)."],
      ["error", "Messages could not be loaded (unavailable)."],
    ]);
  });
});

describe("merging live changes", () => {
  it("keeps the objects of unchanged messages and converts only what changed", () => {
    thread.open("c1");
    const listener = listenerOn(MESSAGES);
    const m1 = message("m1", 1000);
    const m2 = message("m2", 2000);
    listener.next(newestFirst(m2, m1));
    const [first, second] = thread.messages;

    const m2Read = message("m2", 2000, { status: "read" });
    const m3 = message("m3", 3000);
    listener.next(
      querySnapshot([m3, m2Read, m1], {
        changes: [
          { type: "added", doc: m3 },
          { type: "modified", doc: m2Read },
        ],
      }),
    );

    expect(thread.messages.map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
    expect(thread.messages[0]).toStrictEqual(first);
    expect(thread.messages[0] === first).toBe(true);
    expect(thread.messages[1] === second).toBe(false);
    expect(thread.messages[1].status).toBe("read");
  });

  it("drops a removed message", () => {
    thread.open("c1");
    const listener = listenerOn(MESSAGES);
    const m1 = message("m1", 1000);
    const m2 = message("m2", 2000);
    listener.next(newestFirst(m2, m1));

    listener.next(querySnapshot([m1], { changes: [{ type: "removed", doc: m2 }] }));

    expect(thread.messages.map((m) => m.id)).toEqual(["m1"]);
  });
});

describe("loading earlier messages", () => {
  it("a full page means more exist: 'Load earlier' listens again with a page more", () => {
    thread.open("c1");
    const docs = Array.from({ length: MESSAGE_PAGE }, (_, i) => message(`m${i}`, 100_000 - i));
    listenerOn(MESSAGES).next(querySnapshot(docs));
    expect(thread.truncated).toBe(true);

    thread.loadEarlier();
    expect(thread.loadingEarlier).toBe(true);
    thread.loadEarlier(); // a second click while loading changes nothing
    const [first, second, third] = allListenersOn(MESSAGES);
    expect(first.active).toBe(false);
    expect(constraint(second, "limit")?.count).toBe(2 * MESSAGE_PAGE);
    expect(third).toBeUndefined();
    // The shown messages stay until the larger answer arrives.
    expect(thread.messages).toHaveLength(MESSAGE_PAGE);

    second.next(querySnapshot([...docs, message("old", 1)]));
    expect(thread.loadingEarlier).toBe(false);
    expect(thread.truncated).toBe(false);
    expect(thread.messages[0].id).toBe("old");
    expect(thread.messages).toHaveLength(MESSAGE_PAGE + 1);
  });

  it("does nothing when everything is shown", () => {
    thread.open("c1");
    listenerOn(MESSAGES).next(newestFirst(message("m1", 1)));

    thread.loadEarlier();

    expect(thread.loadingEarlier).toBe(false);
    expect(allListenersOn(MESSAGES)).toHaveLength(1);
  });

  it("a conversation opened again starts from one page", () => {
    thread.open("c1");
    listenerOn(MESSAGES).next(querySnapshot(Array.from({ length: MESSAGE_PAGE }, (_, i) => message(`m${i}`, i))));
    thread.loadEarlier();
    thread.open("c2");
    thread.open("c1");

    expect(constraint(listenerOn(MESSAGES), "limit")?.count).toBe(MESSAGE_PAGE);
  });
});

describe("sending: pending, then stored", () => {
  it("shows a pending bubble at once and replaces it by the live message with its clientMessageId", async () => {
    thread.open("c1");
    listenerOn(MESSAGES).next(newestFirst(message("m1", 1000)));

    const sending = thread.send({ type: "text", text: "Hello" });
    expect(thread.pendingHere).toHaveLength(1);
    const [bubble] = thread.pendingHere;
    expect(bubble).toMatchObject({ conversationId: "c1", message: { type: "text", text: "Hello" }, sending: true, error: null });
    await sending;

    const [call] = server.callsTo("/send_message");
    expect(call.body).toEqual({ conversationId: "c1", clientMessageId: bubble.clientMessageId, message: { type: "text", text: "Hello" } });
    expect(call.headers.Authorization).toBe("Bearer id-token");
    // Accepted but not yet stored: still pending, no longer "sending".
    expect(thread.pendingHere[0]).toMatchObject({ sending: false, error: null });

    listenerOn(MESSAGES).next(
      newestFirst(message("out1", 2000, { direction: "out", clientMessageId: bubble.clientMessageId, text: "Hello" }), message("m1", 1000)),
    );
    expect(thread.pending).toEqual([]);
    expect(thread.messages.map((m) => m.id)).toEqual(["m1", "out1"]);
  });

  it("a live message that is not ours leaves the pending bubble", async () => {
    thread.open("c1");
    await thread.send({ type: "text", text: "Hi" });

    listenerOn(MESSAGES).next(newestFirst(message("m9", 9, { clientMessageId: "someone-else" })));

    expect(thread.pendingHere).toHaveLength(1);
  });

  it("asks for the Human Agent tag only when told to", async () => {
    thread.open("c1");
    await thread.send({ type: "text", text: "late" }, true);
    await thread.send({ type: "text", text: "on time" });

    const bodies = server.callsTo("/send_message").map((call) => call.body);
    expect(bodies[0].useHumanAgentTag).toBe(true);
    expect("useHumanAgentTag" in bodies[1]).toBe(false);
  });

  it("a refusal takes the bubble away and throws, so the composer gives the draft back", async () => {
    sendAnswer = () => ({ status: 422, body: { error: { code: "reply_window_closed", message: "The 24-hour window closed." } } });
    thread.open("c1");

    await expect(thread.send({ type: "text", text: "late" })).rejects.toMatchObject({ code: "reply_window_closed" });

    expect(thread.pending).toEqual([]);
  });

  it("a transient failure keeps the bubble with its reason, and Retry resends the same clientMessageId", async () => {
    sendAnswer = () => ({ status: 503, body: { error: { code: "unavailable", message: "Try again shortly." } } });
    thread.open("c1");

    await expect(thread.send({ type: "text", text: "hi" })).rejects.toMatchObject({ httpStatus: 503 });
    const [bubble] = thread.pendingHere;
    expect(bubble).toMatchObject({ sending: false, error: { code: "unavailable", message: "Try again shortly." } });

    sendAnswer = () => ({ status: 200, body: { messageId: "m", status: "queued", created: false } });
    await thread.retry(bubble.clientMessageId);

    const calls = server.callsTo("/send_message");
    expect(calls).toHaveLength(2);
    expect(calls[1].body.clientMessageId).toBe(bubble.clientMessageId);
    expect(thread.pendingHere[0]).toMatchObject({ sending: false, error: null });
  });

  it("an unreachable server keeps the bubble with Retry", async () => {
    sendAnswer = () => new Error("offline");
    thread.open("c1");

    await expect(thread.send({ type: "text", text: "hi" })).rejects.toMatchObject({ code: "network" });

    expect(thread.pendingHere[0].error?.code).toBe("network");
  });

  it("a 401 (the agent's credential, not the message) keeps the bubble for Retry after signing in again", async () => {
    sendAnswer = () => ({ status: 401, body: { error: { code: "unauthenticated", message: "invalid ID token" } } });
    thread.open("c1");

    await expect(thread.send({ type: "text", text: "hi" })).rejects.toMatchObject({ httpStatus: 401 });

    expect(thread.pendingHere).toHaveLength(1);
    expect(thread.pendingHere[0].error).toEqual({ code: "unauthenticated", message: "invalid ID token" });
  });

  it("a failed Retry keeps the bubble and its new reason without throwing", async () => {
    sendAnswer = () => new Error("offline");
    thread.open("c1");
    await thread.send({ type: "text", text: "hi" }).catch(() => undefined);
    sendAnswer = () => ({ status: 500 });

    await thread.retry(thread.pendingHere[0].clientMessageId);

    expect(thread.pendingHere[0].error).toEqual({ code: "http_500", message: "The server answered 500." });
  });

  it("pending bubbles belong to their conversation, and Discard removes one", async () => {
    sendAnswer = () => new Error("offline");
    thread.open("c1");
    await thread.send({ type: "text", text: "to c1" }).catch(() => undefined);
    thread.open("c2");
    expect(thread.pendingHere).toEqual([]);
    expect(thread.pending).toHaveLength(1);

    thread.open("c1");
    expect(thread.pendingHere.map((p) => p.message.text)).toEqual(["to c1"]);
    thread.discard(thread.pendingHere[0].clientMessageId);
    expect(thread.pending).toEqual([]);
  });

  it("sends nothing when no conversation is open", async () => {
    await thread.send({ type: "text", text: "nowhere" });
    expect(thread.pending).toEqual([]);
    expect(server.calls).toEqual([]);
  });
});

describe("read state", () => {
  function markReads() {
    return server.callsTo("/agent_api").filter((call) => call.body.action === "mark_read");
  }

  it("opening a conversation with unread messages marks it read at once", async () => {
    vi.useFakeTimers();
    thread.open("c1");
    listenerOn(CONVERSATION).next(docSnapshot("c1", { unreadCount: 2 }));

    await vi.advanceTimersByTimeAsync(0);

    expect(markReads().map((call) => call.body)).toEqual([{ action: "mark_read", conversationId: "c1" }]);
  });

  it("writes nothing for a conversation without unread messages", async () => {
    vi.useFakeTimers();
    thread.open("c1");
    listenerOn(CONVERSATION).next(docSnapshot("c1", { unreadCount: 0 }));

    await vi.advanceTimersByTimeAsync(10_000);

    expect(markReads()).toEqual([]);
  });

  it("new messages while it stays open are marked read at most every 4 s", async () => {
    vi.useFakeTimers();
    thread.open("c1");
    const listener = listenerOn(CONVERSATION);
    listener.next(docSnapshot("c1", { unreadCount: 1 }));
    await vi.advanceTimersByTimeAsync(0);
    expect(markReads()).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(500);
    listener.next(docSnapshot("c1", { unreadCount: 1 }));
    await vi.advanceTimersByTimeAsync(1000);
    listener.next(docSnapshot("c1", { unreadCount: 2 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(markReads()).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1500);
    expect(markReads()).toHaveLength(2);
  });

  it("does not mark read when the unread count went back to 0 before the throttle ran out", async () => {
    vi.useFakeTimers();
    thread.open("c1");
    const listener = listenerOn(CONVERSATION);
    listener.next(docSnapshot("c1", { unreadCount: 1 }));
    await vi.advanceTimersByTimeAsync(0);
    listener.next(docSnapshot("c1", { unreadCount: 1 }));
    listener.next(docSnapshot("c1", { unreadCount: 0 })); // read in another tab

    await vi.advanceTimersByTimeAsync(5000);

    expect(markReads()).toHaveLength(1);
  });

  it("waits while the tab is hidden, and marks read when it is shown again", async () => {
    vi.useFakeTimers();
    visibility = "hidden";
    thread.open("c1");
    listenerOn(CONVERSATION).next(docSnapshot("c1", { unreadCount: 3 }));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(markReads()).toEqual([]);

    visibility = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(0);

    expect(markReads()).toHaveLength(1);
  });

  it("closing the conversation cancels a mark_read that was due", async () => {
    vi.useFakeTimers();
    thread.open("c1");
    const listener = listenerOn(CONVERSATION);
    listener.next(docSnapshot("c1", { unreadCount: 1 }));
    await vi.advanceTimersByTimeAsync(0);
    listener.next(docSnapshot("c1", { unreadCount: 1 }));

    thread.close();
    await vi.advanceTimersByTimeAsync(10_000);

    expect(markReads()).toHaveLength(1);
  });

  it("a conversation gone meanwhile is not an error; other failures are logged only", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    server.answer(() => ({ status: 404, body: { error: { code: "conversation_not_found", message: "gone" } } }));
    thread.open("c1");
    listenerOn(CONVERSATION).next(docSnapshot("c1", { unreadCount: 1 }));
    await vi.waitFor(() => expect(markReads()).toHaveLength(1));
    await settle();
    expect(warn).not.toHaveBeenCalled();

    server.answer(() => ({ status: 500 }));
    thread.open("c2");
    listenerOn("tenants/t1/conversations/c2").next(docSnapshot("c2", { unreadCount: 1 }));
    await vi.waitFor(() => expect(warn).toHaveBeenCalledWith("mark_read failed", expect.objectContaining({ code: "http_500" })));
    expect(useNotices().items).toEqual([]);
    warn.mockRestore();
  });
});

describe("actions on the conversation", () => {
  it("assign and set_status go to agent_api for the open conversation", async () => {
    thread.open("c1");
    await thread.assign("agent-2");
    await thread.setStatus("snoozed", 5000);

    expect(server.callsTo("/agent_api").map((call) => call.body)).toEqual([
      { action: "assign", conversationId: "c1", assigneeId: "agent-2" },
      { action: "set_status", conversationId: "c1", status: "snoozed", snoozeUntilMs: 5000 },
    ]);
  });

  it("a failed action becomes a notice with the server's reason", async () => {
    server.answer(() => ({ status: 403, body: { error: { code: "forbidden", message: "Only admins may do that." } } }));
    thread.open("c1");

    await thread.setStatus("resolved");

    expect(useNotices().items.map((n) => n.text)).toEqual(["Changing the status failed: Only admins may do that."]);
  });

  it("set_labels goes to agent_api; a failure's notice goes at the next action", async () => {
    thread.open("c1");
    server.answer(() => ({ status: 422, body: { error: { code: "too_many_labels", message: "a conversation carries at most 10 labels" } } }));
    await thread.setLabels(["lb-a"], ["lb-b"]);
    expect(useNotices().items.map((n) => n.text)).toEqual(["Changing the labels failed: a conversation carries at most 10 labels"]);

    server.answer(() => ({ status: 200, body: {} }));
    await thread.setStatus("resolved");

    expect(server.callsTo("/agent_api").map((call) => call.body)).toEqual([
      { action: "set_labels", conversationId: "c1", add: ["lb-a"], remove: ["lb-b"] },
      { action: "set_status", conversationId: "c1", status: "resolved" },
    ]);
    expect(useNotices().items).toEqual([]);
  });

  it("activity lines come through as messages with their activity", () => {
    thread.open("c1");
    const activity = { verb: "resolve", actorId: "a2", actorName: "Ben" };
    listenerOn(MESSAGES).next(newestFirst(message("s1", 2000, { direction: "system", type: "activity", activity, text: "Ben resolved the conversation" })));
    expect(thread.messages.map((m) => [m.direction, m.type, m.activity, m.text])).toEqual([
      ["system", "activity", activity, "Ben resolved the conversation"],
    ]);
  });

  it("reset forgets the open conversation, pending sends and drafts", async () => {
    sendAnswer = () => new Error("offline");
    thread.open("c1");
    thread.drafts.set("c1", "half a sentence");
    await thread.send({ type: "text", text: "x" }).catch(() => undefined);

    thread.reset();

    expect(thread.conversationId).toBeNull();
    expect(thread.pending).toEqual([]);
    expect(thread.drafts.size).toBe(0);
    expect(allListenersOn(MESSAGES).every((listener) => !listener.active)).toBe(true);
  });
});

describe("opening a conversation at a message (a search or timeline result)", () => {
  it("loads earlier pages until the message is there, then stops", () => {
    thread.reveal("c1", "m-old");
    expect(thread.target).toBe("m-old");
    const first = listenerOn(MESSAGES);
    const page = Array.from({ length: MESSAGE_PAGE }, (_, i) => message(`m${MESSAGE_PAGE - i}`, (MESSAGE_PAGE - i) * 1000));
    first.next(newestFirst(...page));
    // Not among the latest 100: the next listener asks for 200.
    const second = allListenersOn(MESSAGES).at(-1)!;
    expect(constraint(second, "limit")?.count).toBe(2 * MESSAGE_PAGE);
    second.next(newestFirst(...page, message("m-old", 1)));
    expect(thread.messages[0].id).toBe("m-old");
    // Found: no further page is asked for.
    expect(allListenersOn(MESSAGES)).toHaveLength(2);
  });

  it("forgets the message when another conversation opens", () => {
    thread.reveal("c1", "m1");
    thread.open("c2");
    expect(thread.target).toBeNull();
  });
});
