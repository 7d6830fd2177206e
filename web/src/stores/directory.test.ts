import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { allListenersOn, docSnapshot, listenerOn, querySnapshot, resetFirebase } from "../testing/fakeFirebase";
import { useDirectory } from "./directory";

initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: "a", create_app: "c", chat_api: "x" } });

let directory: ReturnType<typeof useDirectory>;

beforeEach(() => {
  resetFirebase();
  setActivePinia(createPinia());
  directory = useDirectory();
});

describe("the directory", () => {
  it("lists the tenant's agents by name (the e-mail when nameless) and its channels", () => {
    directory.start("t1");

    listenerOn("tenants/t1/agents").next(
      querySnapshot([
        docSnapshot("u2", { name: "Zoe", email: "zoe@x.test", role: "agent" }),
        docSnapshot("u1", { email: "bob@x.test", role: "admin" }),
        docSnapshot("u3", { name: "Ana", email: "ana@x.test", role: "agent" }),
      ]),
    );
    listenerOn("tenants/t1/channels").next(
      querySnapshot([docSnapshot("wa1", { kind: "whatsapp", name: "Support line", health: { ok: false } })]),
    );

    expect(directory.agents.map((a) => a.name)).toEqual(["Ana", "bob@x.test", "Zoe"]);
    expect(directory.channelsById.get("wa1")).toEqual({ id: "wa1", kind: "whatsapp", name: "Support line", health: { ok: false } });
  });

  it("knows who was deactivated (the assignee pickers leave them out)", () => {
    directory.start("t1");
    listenerOn("tenants/t1/agents").next(
      querySnapshot([docSnapshot("u1", { name: "Ana" }), docSnapshot("u2", { name: "Gus", active: false })]),
    );

    expect(directory.agents.map((a) => [a.name, a.active])).toEqual([["Ana", true], ["Gus", false]]);
  });

  it("names assignees: unassigned, known, or unknown", () => {
    directory.start("t1");
    listenerOn("tenants/t1/agents").next(querySnapshot([docSnapshot("u1", { name: "Ana" })]));

    expect(directory.agentName(null)).toBe("Unassigned");
    expect(directory.agentName(undefined)).toBe("Unassigned");
    expect(directory.agentName("u1")).toBe("Ana");
    expect(directory.agentName("u9")).toBe("Unknown agent");
  });

  it("empties a list its listener lost (permissions changed)", () => {
    directory.start("t1");
    listenerOn("tenants/t1/agents").next(querySnapshot([docSnapshot("u1", { name: "Ana" })]));
    listenerOn("tenants/t1/channels").next(querySnapshot([docSnapshot("c1", { kind: "telegram" })]));

    listenerOn("tenants/t1/agents").error?.({ code: "permission-denied", message: "" });
    listenerOn("tenants/t1/channels").error?.({ code: "permission-denied", message: "" });

    expect(directory.agents).toEqual([]);
    expect(directory.channels).toEqual([]);
  });

  it("starting again (another tenant) stops the old listeners; stop stops all", () => {
    directory.start("t1");
    directory.start("t2");
    expect(allListenersOn("tenants/t1/agents").every((l) => !l.active)).toBe(true);
    expect(allListenersOn("tenants/t1/channels").every((l) => !l.active)).toBe(true);

    directory.stop();
    expect(allListenersOn("tenants/t2/agents").every((l) => !l.active)).toBe(true);
    expect(allListenersOn("tenants/t2/channels").every((l) => !l.active)).toBe(true);
  });
});
