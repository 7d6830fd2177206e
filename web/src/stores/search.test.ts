import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { fakeAuth, fakeServer, fakeUser, resetFirebase, settle, type Call } from "../testing/fakeFirebase";
import { SEARCH_DEBOUNCE_MS, useSearch } from "./search";
import { timelineRequest, useTimeline } from "./timeline";

const FUNCTIONS = { send_message: "http://f.test/send_message", agent_api: "http://f.test/agent_api", create_app: "c", chat_api: "x" };
initFirebase({ projectId: "demo", apiKey: "k", functions: FUNCTIONS });

function hit(id: string, snippet: string) {
  return {
    conversationId: "c1",
    messageId: id,
    sentAtMs: 1000,
    direction: "in",
    type: "text",
    channel: "whatsapp",
    snippet,
    highlights: [[0, 4]],
    sender: { kind: "contact", name: "Ana" },
    contact: { id: "k1", name: "Ana" },
  };
}

let server: ReturnType<typeof fakeServer>;
let answer: (call: Call) => { status: number; body?: unknown };

beforeEach(() => {
  resetFirebase();
  vi.useFakeTimers();
  fakeAuth.currentUser = fakeUser({ uid: "agent-1" });
  answer = (call) => ({ status: 200, body: { results: [hit("m1", `match ${call.body.query}`)], contacts: [], next: null } });
  server = fakeServer((call) => answer(call));
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
});

afterEach(() => {
  vi.useRealTimers();
});

const searches = () => server.callsTo("/agent_api").map((call) => call.body);

describe("message search", () => {
  it("asks once the agent pauses, and never for fewer than 3 characters", async () => {
    const search = useSearch();
    search.setQuery("pa");
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS * 2);
    await settle();
    expect(searches()).toEqual([]);

    search.setQuery("par");
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS / 2);
    search.setQuery("parc");
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS);
    await settle();
    expect(searches()).toEqual([{ action: "search", query: "parc" }]);
    expect(search.results.map((r) => r.snippet)).toEqual(["match parc"]);
    expect(search.answered).toBe(true);
  });

  it("drops an answer that arrives after a newer question", async () => {
    const search = useSearch();
    const held: Array<() => void> = [];
    answer = (call) => ({ status: 200, body: { results: [hit("m", `for ${call.body.query}`)], contacts: [], next: null } });
    server.answer(
      (call) =>
        new Promise((resolve) => {
          held.push(() => resolve(answer(call)));
        }),
    );
    search.setQuery("first");
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS);
    await settle();
    search.setQuery("second");
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS);
    await settle();
    held[1]();
    await settle();
    held[0]();
    await settle();
    expect(search.results.map((r) => r.snippet)).toEqual(["for second"]);
  });

  it("follows the cursor for more results and passes the filters", async () => {
    const search = useSearch();
    answer = (call) =>
      call.body.cursor
        ? { status: 200, body: { results: [hit("m2", "older")], contacts: [], next: null } }
        : { status: 200, body: { results: [hit("m1", "newer")], contacts: [{ contactId: "k1", name: "Ana" }], next: "CUR" } };
    search.setFilters({ channel: "whatsapp", direction: "note" });
    search.setQuery("refund");
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS);
    await settle();
    await search.more();
    expect(searches()).toEqual([
      { action: "search", query: "refund", channel: "whatsapp", direction: "note" },
      { action: "search", query: "refund", channel: "whatsapp", direction: "note", cursor: "CUR" },
    ]);
    expect(search.results.map((r) => r.snippet)).toEqual(["newer", "older"]);
    expect(search.contacts.map((c) => c.name)).toEqual(["Ana"]);
    expect(search.next).toBeNull();
  });

  it("says what went wrong when the server refuses", async () => {
    const search = useSearch();
    answer = () => ({ status: 400, body: { error: { code: "query_too_short", message: "search for words of at least 3 letters" } } });
    search.setQuery("ab c");
    vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS);
    await settle();
    expect(search.error).toContain("at least 3 letters");
    expect(search.results).toEqual([]);
  });
});

describe("the timeline", () => {
  it("turns the filters into a request: whole local days, one list per filter", () => {
    const request = timelineRequest({ from: "2026-03-01", to: "2026-03-02", order: "oldest", type: "note", channel: "", direction: "in" });
    expect(request).toMatchObject({ order: "oldest", types: ["note"], directions: ["in"], pageSize: 50 });
    expect(request.channels).toBeUndefined();
    expect(request.toMs! - request.fromMs!).toBe(2 * 24 * 3600 * 1000);
    expect(new Date(request.fromMs!).getDate()).toBe(1);
  });

  it("loads a page, then the next by its cursor, and starts over when the filters change", async () => {
    const timeline = useTimeline();
    const row = (id: string) => ({ ...hit(id, ""), text: id });
    answer = (call) =>
      call.body.cursor
        ? { status: 200, body: { messages: [row("m2")], next: null } }
        : { status: 200, body: { messages: [row("m1")], next: "C1" } };
    await timeline.load();
    await timeline.more();
    expect(timeline.messages.map((m) => m.messageId)).toEqual(["m1", "m2"]);
    expect(timeline.next).toBeNull();
    await timeline.apply({ order: "oldest" });
    expect(timeline.messages.map((m) => m.messageId)).toEqual(["m1"]);
    expect(searches().map((b) => [b.action, b.order, b.cursor])).toEqual([
      ["timeline", "newest", undefined],
      ["timeline", "newest", "C1"],
      ["timeline", "oldest", undefined],
    ]);
  });
});
