import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { age, outcomeText, pretty } from "../lib/operations";
import { fakeAuth, fakeServer, fakeUser, resetFirebase, type Call } from "../testing/fakeFirebase";
import { useOperations } from "./operations";

const AGENT_API = "http://f.test/agent_api";
initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: AGENT_API, create_app: "c", chat_api: "x" } });

const MASKED = { from: "•••67", text: { body: "•••" } };
const REVEALED = { from: "15551234567", text: { body: "my order?" } };

function overview(items = 1) {
  return {
    quarantine: {
      items: Array.from({ length: items }, (_, i) => ({
        id: `q${i}`, channel: "whatsapp", reason: "unknown_route", error: "no route", routeKey: "whatsapp:1", receivedAtMs: 1, raw: MASKED,
      })),
      count: items,
      oldestAgeSeconds: items ? 4000 : null,
    },
    deadLetters: { items: [], count: 0, oldestAgeSeconds: null, error: null },
    alerts: [{ policy: "dead_letters_arriving", title: "Inbound events dead-lettered", severity: "ERROR", message: "1 event" }],
    notEvaluated: [{ policy: "webhook_5xx", title: "Webhook 5xx" }],
    atMs: 1,
  };
}

function route(call: Call) {
  const action = call.body.action as string;
  if (action === "operations") return { status: 200, body: overview() };
  if (action === "quarantine_reveal") return { status: 200, body: { id: call.body.id, raw: REVEALED } };
  if (action === "quarantine_replay") return { status: 200, body: { id: call.body.id, reason: "unknown_route", outcome: "still-unrouted", events: 0 } };
  if (action === "quarantine_replay_all") return { status: 200, body: { results: [{ outcome: "published" }, { outcome: "still-failing" }], replayed: 1 } };
  if (action === "quarantine_discard") return { status: 200, body: { id: call.body.id, discarded: true } };
  if (action === "deadletter_discard") return { status: 403, body: { error: { code: "forbidden", message: "admins only" } } };
  return { status: 200, body: {} };
}

let operations: ReturnType<typeof useOperations>;
let server: ReturnType<typeof fakeServer>;

beforeEach(() => {
  resetFirebase();
  fakeAuth.currentUser = fakeUser({ uid: "admin-1" });
  server = fakeServer(route);
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
  operations = useOperations();
});

afterEach(() => vi.unstubAllGlobals());

describe("the operations page's store", () => {
  it("loads the masked overview and reveals one item only on request, hiding it again", async () => {
    await operations.load();
    expect(operations.overview?.quarantine.count).toBe(1);
    expect(operations.raw("quarantine", "q0", MASKED)).toEqual(MASKED);
    await operations.toggleReveal("quarantine", "q0");
    expect(operations.raw("quarantine", "q0", MASKED)).toEqual(REVEALED);
    expect(operations.isRevealed("quarantine", "q1")).toBe(false);
    await operations.toggleReveal("quarantine", "q0");
    expect(operations.raw("quarantine", "q0", MASKED)).toEqual(MASKED);
    expect(server.calls.map((c) => c.body.action)).toEqual(["operations", "quarantine_reveal"]);
  });

  it("replays, replays all and discards through agent_api, then reloads; a reload forgets what was revealed", async () => {
    await operations.load();
    await operations.toggleReveal("quarantine", "q0");
    await operations.replay("quarantine", "q0");
    expect(operations.message).toBe(outcomeText("still-unrouted"));
    expect(operations.isRevealed("quarantine", "q0")).toBe(false);
    await operations.replayAll();
    expect(operations.message).toBe("1 item(s) replayed, 1 still failing");
    await operations.discard("quarantine", "q0", "  ");
    expect(operations.error).toBe("Say why it is discarded.");
    await operations.discard("quarantine", "q0", " spam ");
    expect(operations.message).toBe("Discarded");
    const actions = server.calls.map((c) => c.body);
    expect(actions.filter((b) => b.action !== "operations")).toEqual([
      { action: "quarantine_reveal", id: "q0" },
      { action: "quarantine_replay", id: "q0" },
      { action: "quarantine_replay_all" },
      { action: "quarantine_discard", id: "q0", reason: "spam" },
    ]);
    expect(actions.filter((b) => b.action === "operations")).toHaveLength(4);
  });

  it("shows the server's refusal", async () => {
    await operations.discard("deadLetter", "e1", "duplicate");
    expect(operations.error).toBe("admins only");
    expect(operations.busy).toBeNull();
  });
});

describe("operations formatting", () => {
  it("says how old the oldest item is and pretty-prints payloads", () => {
    expect([age(null), age(42), age(300), age(4000), age(200_000)]).toEqual(["–", "42s", "5m", "1h 6m", "2d 7h"]);
    expect(pretty({ a: [1] })).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(pretty("not json")).toBe("not json");
  });
});
