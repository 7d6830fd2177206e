import { createPinia, setActivePinia } from "pinia";
import { nextTick } from "vue";
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
  type Listener,
} from "../testing/fakeFirebase";
import { PAGE_SIZE, useInbox } from "./inbox";
import { useNotices } from "./notices";

const CONVERSATIONS = "tenants/t1/conversations";

initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: "http://f.test/agent_api", create_app: "c", chat_api: "x" } });

function conversation(id: string, fields: Record<string, unknown> = {}) {
  return docSnapshot(id, {
    kind: "support",
    channel: "whatsapp",
    status: "open",
    contactName: `Contact ${id}`,
    contactExternalId: `+1555${id}`,
    lastActivityAtMs: 1000,
    unreadCount: 0,
    ...fields,
  });
}

function page(count: number, fields: (index: number) => Record<string, unknown> = () => ({})) {
  return Array.from({ length: count }, (_, index) => conversation(`c${index}`, fields(index)));
}

function wheres(listener: Listener) {
  return listener.constraints.filter((item) => item.type === "where").map(({ field, op, value }) => [field, op, value]);
}

let inbox: ReturnType<typeof useInbox>;

beforeEach(() => {
  resetFirebase();
  setActivePinia(createPinia());
  inbox = useInbox();
});

describe("the inbox query", () => {
  it("asks for the tenant's open support conversations, latest activity first, one page", () => {
    inbox.start("t1", "agent-1");

    const listener = listenerOn(CONVERSATIONS);
    expect(wheres(listener)).toEqual([
      ["kind", "==", "support"],
      ["status", "==", "open"],
    ]);
    expect(constraint(listener, "orderBy")).toMatchObject({ field: "lastActivityAtMs", direction: "desc" });
    expect(constraint(listener, "limit")?.count).toBe(PAGE_SIZE);
    expect(listener.options).toEqual({ includeMetadataChanges: true });
  });

  it("puts channel, status and 'assigned to me' into the query, and a new query replaces the old", async () => {
    inbox.start("t1", "agent-1");
    const first = listenerOn(CONVERSATIONS);

    inbox.filters.channel = "telegram";
    inbox.filters.status = "all";
    inbox.filters.assignee = "me";
    await nextTick();

    expect(first.active).toBe(false);
    expect(wheres(listenerOn(CONVERSATIONS))).toEqual([
      ["kind", "==", "support"],
      ["channel", "==", "telegram"],
      ["assigneeId", "==", "agent-1"],
    ]);
  });

  it("asks the server for 'unassigned' (assigned == 0, which ingest and assign write) and shows what it answers", async () => {
    inbox.start("t1", "agent-1");
    inbox.filters.assignee = "unassigned";
    await nextTick();
    const listener = listenerOn(CONVERSATIONS);
    expect(wheres(listener)).toEqual([
      ["kind", "==", "support"],
      ["status", "==", "open"],
      ["assigned", "==", 0],
    ]);
    expect(constraint(listener, "where", "assigneeId")).toBeUndefined();

    listener.next(querySnapshot([conversation("b"), conversation("c", { assigneeId: null })]));

    expect(inbox.visible.map((row) => row.id)).toEqual(["b", "c"]);
  });

  it("filters by label in the query (labels array-contains) and combines it with the others", async () => {
    inbox.start("t1", "agent-1");
    inbox.filters.label = "lb-vip";
    inbox.filters.assignee = "unassigned";
    await nextTick();

    expect(wheres(listenerOn(CONVERSATIONS))).toEqual([
      ["kind", "==", "support"],
      ["status", "==", "open"],
      ["assigned", "==", 0],
      ["labels", "array-contains", "lb-vip"],
    ]);
    listenerOn(CONVERSATIONS).next(querySnapshot([conversation("a", { labels: ["lb-vip", 7] })]));
    expect(inbox.visible[0].labels).toEqual(["lb-vip"]);
  });
});

describe("paging", () => {
  it("offers more when a full page arrived, and not when fewer did", () => {
    inbox.start("t1", "agent-1");
    listenerOn(CONVERSATIONS).next(querySnapshot(page(PAGE_SIZE)));
    expect(inbox.hasMore).toBe(true);
    expect(inbox.loading).toBe(false);

    listenerOn(CONVERSATIONS).next(querySnapshot(page(PAGE_SIZE - 1)));
    expect(inbox.hasMore).toBe(false);
  });

  it("'Load more' raises the limit by a page on a new listener, and the rows stay meanwhile", () => {
    inbox.start("t1", "agent-1");
    listenerOn(CONVERSATIONS).next(querySnapshot(page(PAGE_SIZE)));

    inbox.loadMore();

    const [first, second] = allListenersOn(CONVERSATIONS);
    expect(first.active).toBe(false);
    expect(constraint(second, "limit")?.count).toBe(2 * PAGE_SIZE);
    expect(inbox.loading).toBe(true);
    expect(inbox.rows).toHaveLength(PAGE_SIZE);

    second.next(querySnapshot(page(45)));
    expect(inbox.rows).toHaveLength(45);
    expect(inbox.hasMore).toBe(false);
  });

  it("a filter change starts again from the first page", async () => {
    inbox.start("t1", "agent-1");
    inbox.loadMore();
    inbox.loadMore();
    expect(constraint(listenerOn(CONVERSATIONS), "limit")?.count).toBe(3 * PAGE_SIZE);

    inbox.filters.channel = "messenger";
    await nextTick();

    expect(constraint(listenerOn(CONVERSATIONS), "limit")?.count).toBe(PAGE_SIZE);
  });
});

describe("what the list shows while it loads", () => {
  it("shows rows the cache already holds, but is neither empty nor at its end until the server answers", () => {
    inbox.start("t1", "agent-1");
    const listener = listenerOn(CONVERSATIONS);

    listener.next(querySnapshot([], { fromCache: true }));
    expect(inbox.loading).toBe(true);

    listener.next(querySnapshot(page(3), { fromCache: true }));
    expect(inbox.rows).toHaveLength(3);
    expect(inbox.loading).toBe(true);
    expect(inbox.hasMore).toBe(false);

    listener.next(querySnapshot(page(2)));
    expect(inbox.rows).toHaveLength(2);
    expect(inbox.loading).toBe(false);
    expect(inbox.live).toBe(true);
  });

  it("says the list may lag when, once synced, it is served from the cache (offline)", () => {
    inbox.start("t1", "agent-1");
    const listener = listenerOn(CONVERSATIONS);
    listener.next(querySnapshot(page(2)));

    listener.next(querySnapshot(page(2), { fromCache: true }));
    expect(inbox.live).toBe(false);

    listener.next(querySnapshot(page(2)));
    expect(inbox.live).toBe(true);
  });

  it("turns a listener error into a message with its code, and clears it on the next answer", () => {
    inbox.start("t1", "agent-1");
    listenerOn(CONVERSATIONS).error?.({ code: "permission-denied", message: "no" });

    expect(inbox.error).toBe("The inbox could not be loaded (permission-denied).");
    expect(inbox.loading).toBe(false);

    inbox.loadMore();
    listenerOn(CONVERSATIONS).next(querySnapshot(page(1)));
    expect(inbox.error).toBeNull();
  });

  it("maps the documents to rows (names fall back to the external id)", () => {
    inbox.start("t1", "agent-1");
    listenerOn(CONVERSATIONS).next(
      querySnapshot([
        conversation("x", { contactName: "", contactExternalId: "tg:42", unreadCount: 3, lastActivityAtMs: 99, assigneeId: "a1" }),
      ]),
    );

    expect(inbox.rows[0]).toMatchObject({ id: "x", contactName: "tg:42", unreadCount: 3, lastActivityAtMs: 99, assigneeId: "a1" });
  });
});

describe("search and clearing filters", () => {
  it("searches the loaded rows by contact name or external id, ignoring case and spaces around", () => {
    inbox.start("t1", "agent-1");
    listenerOn(CONVERSATIONS).next(
      querySnapshot([
        conversation("1", { contactName: "Ana Lima", contactExternalId: "+15550001" }),
        conversation("2", { contactName: "Bob", contactExternalId: "+15550002" }),
      ]),
    );

    inbox.search = "  ANA ";
    expect(inbox.visible.map((row) => row.id)).toEqual(["1"]);
    inbox.search = "0002";
    expect(inbox.visible.map((row) => row.id)).toEqual(["2"]);
    inbox.search = "nobody";
    expect(inbox.visible).toEqual([]);
    // Search never asks Firestore again.
    expect(allListenersOn(CONVERSATIONS)).toHaveLength(1);
  });

  it("knows whether anything narrows the list, and clears everything at once", async () => {
    inbox.start("t1", "agent-1");
    expect(inbox.filtered).toBe(true); // "open" is the default status

    inbox.clearFilters();
    await nextTick();
    expect(inbox.filtered).toBe(false);
    expect(wheres(listenerOn(CONVERSATIONS))).toEqual([["kind", "==", "support"]]);

    inbox.search = "x";
    expect(inbox.filtered).toBe(true);
    inbox.filters.assignee = "unassigned";
    inbox.clearFilters();
    expect(inbox.search).toBe("");
    expect(inbox.filters).toEqual({ channel: "all", status: "all", assignee: "anyone", label: "all" });
  });

  it("tells an empty inbox from filters that leave nothing", async () => {
    inbox.start("t1", "agent-1");
    expect(inbox.onlyOpen).toBe(true); // the default view: empty means no open conversations
    inbox.filters.label = "lb-vip";
    expect(inbox.onlyOpen).toBe(false);
    expect(inbox.filtered).toBe(true);
    inbox.filters.label = "all";
    inbox.search = "ana";
    expect(inbox.onlyOpen).toBe(false);
  });
});

describe("stopping", () => {
  it("stops listening, forgets the rows and no longer follows filter changes", async () => {
    inbox.start("t1", "agent-1");
    listenerOn(CONVERSATIONS).next(querySnapshot(page(2)));

    inbox.stop();
    expect(allListenersOn(CONVERSATIONS).every((listener) => !listener.active)).toBe(true);
    expect(inbox.rows).toEqual([]);
    expect(inbox.loading).toBe(true);

    inbox.filters.channel = "twilio";
    await nextTick();
    expect(allListenersOn(CONVERSATIONS)).toHaveLength(1);
  });

  it("restarting for another tenant listens there only", () => {
    inbox.start("t1", "agent-1");
    inbox.start("t2", "agent-9");

    expect(allListenersOn(CONVERSATIONS).every((listener) => !listener.active)).toBe(true);
    expect(listenerOn("tenants/t2/conversations")).toBeDefined();
  });
});

describe("selection and bulk actions", () => {
  let server: ReturnType<typeof fakeServer>;

  beforeEach(() => {
    fakeAuth.currentUser = fakeUser({ uid: "agent-1" });
    server = fakeServer(() => ({ status: 200, body: {} }));
    vi.stubGlobal("fetch", server.fetch);
  });

  afterEach(() => vi.unstubAllGlobals());

  function loaded(count: number): void {
    inbox.start("t1", "agent-1");
    listenerOn(CONVERSATIONS).next(querySnapshot(page(count)));
  }

  it("ticks rows one by one, and a shift-click ticks the range in list order", () => {
    loaded(6);
    inbox.toggle("c1");
    inbox.toggle("c4", true);
    expect(inbox.selected).toEqual(["c1", "c2", "c3", "c4"]);
    inbox.toggle("c2");
    expect(inbox.selected).toEqual(["c1", "c3", "c4"]);
    inbox.selectAll(true);
    expect(inbox.selected).toHaveLength(6);
    inbox.clearSelection();
    expect(inbox.selected).toEqual([]);
  });

  it("drops rows that left the list from the selection", () => {
    loaded(3);
    inbox.toggle("c0");
    inbox.toggle("c2");
    listenerOn(CONVERSATIONS).next(querySnapshot([conversation("c0"), conversation("c1")]));
    expect(inbox.selected).toEqual(["c0"]);
  });

  it("sends one bulk request; failures stay selected with a notice, successes are confirmed", async () => {
    loaded(3);
    inbox.selectAll(true);
    server.answer(() => ({
      status: 200,
      body: {
        results: { c0: { ok: true }, c1: { ok: false, code: "conversation_not_found", message: "no such conversation" }, c2: { ok: true } },
        succeeded: 2,
        failed: 1,
      },
    }));
    useNotices().error("an old failure");

    await inbox.bulk({ op: "status", status: "resolved" }, "Resolved");

    expect(server.calls.map((call) => call.body)).toEqual([
      { action: "bulk", conversationIds: ["c0", "c1", "c2"], op: "status", status: "resolved" },
    ]);
    expect(inbox.selected).toEqual(["c1"]);
    expect(useNotices().items.map((n) => [n.kind, n.text])).toEqual([
      ["info", "Resolved 2 conversations."],
      ["error", "1 conversation could not be changed: no such conversation."],
    ]);
  });
});
