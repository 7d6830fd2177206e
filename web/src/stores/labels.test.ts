import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { allListenersOn, docSnapshot, fakeAuth, fakeServer, fakeUser, listenerOn, querySnapshot, resetFirebase } from "../testing/fakeFirebase";
import { useLabels } from "./labels";
import { useNotices } from "./notices";

const AGENT_API = "http://f.test/agent_api";
initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: AGENT_API, create_app: "c", chat_api: "x" } });

let labels: ReturnType<typeof useLabels>;
let server: ReturnType<typeof fakeServer>;

beforeEach(() => {
  resetFirebase();
  fakeAuth.currentUser = fakeUser({ uid: "admin-1" });
  server = fakeServer(() => ({ status: 200, body: { labelId: "lb-new", name: "New", color: "#dc2626" } }));
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
  labels = useLabels();
});

afterEach(() => vi.unstubAllGlobals());

describe("the label set", () => {
  it("follows the tenant's labels live, sorted by name, and knows which a conversation carries", () => {
    labels.start("t1");
    listenerOn("tenants/t1/labels").next(
      querySnapshot([docSnapshot("b", { name: "VIP", color: "#7c3aed" }), docSnapshot("a", { name: "Billing", color: "#dc2626" })]),
    );
    expect(labels.labels.map((l) => l.name)).toEqual(["Billing", "VIP"]);
    // A deleted label's id lingering on a conversation is not shown.
    expect(labels.of(["b", "gone"]).map((l) => l.id)).toEqual(["b"]);

    listenerOn("tenants/t1/labels").next(querySnapshot([docSnapshot("b", { name: "Gold", color: "#ca8a04" })]));
    expect(labels.of(["a", "b"]).map((l) => l.name)).toEqual(["Gold"]);
    labels.stop();
    expect(allListenersOn("tenants/t1/labels").every((listener) => !listener.active)).toBe(true);
  });

  it("creates, renames, recolours and deletes through agent_api, and labels any conversation", async () => {
    await labels.create("New", "#dc2626");
    await labels.rename("lb-new", "Newer");
    await labels.recolor("lb-new", "#16a34a");
    await labels.remove("lb-new");
    await labels.setOn("c9", ["lb-new"], ["lb-old"]);
    expect(server.calls.map((call) => call.body)).toEqual([
      { action: "create_label", name: "New", color: "#dc2626" },
      { action: "update_label", labelId: "lb-new", name: "Newer" },
      { action: "update_label", labelId: "lb-new", color: "#16a34a" },
      { action: "delete_label", labelId: "lb-new" },
      { action: "set_labels", conversationId: "c9", add: ["lb-new"], remove: ["lb-old"] },
    ]);
  });

  it("a refusal becomes a notice, and the next action clears it", async () => {
    server.answer(() => ({ status: 403, body: { error: { code: "admin_only", message: "only an admin of this workspace can manage labels" } } }));
    expect(await labels.create("VIP", "#dc2626")).toBeNull();
    expect(useNotices().items.map((n) => n.text)).toEqual(["Creating the label failed: only an admin of this workspace can manage labels"]);

    server.answer(() => ({ status: 200, body: {} }));
    await labels.setOn("c1", ["lb"], []);
    expect(useNotices().items).toEqual([]);
  });
});
