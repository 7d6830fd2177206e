import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { allListenersOn, constraint, docSnapshot, querySnapshot, resetFirebase } from "../testing/fakeFirebase";
import { useCanned } from "./canned";

initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: "a", create_app: "c", chat_api: "x" } });

let canned: ReturnType<typeof useCanned>;

beforeEach(() => {
  resetFirebase();
  setActivePinia(createPinia());
  canned = useCanned();
});

function listeners() {
  const all = allListenersOn("tenants/t1/cannedReplies").filter((l) => l.active);
  const team = all.find((l) => constraint(l, "where", "scope")?.value === "tenant")!;
  const mine = all.find((l) => constraint(l, "where", "ownerId")?.value === "u1")!;
  return { all, team, mine };
}

describe("canned replies", () => {
  it("listens to the team's replies and the agent's own, the two queries the rules allow", () => {
    canned.start("t1", "u1");
    const { all, team, mine } = listeners();
    expect(all).toHaveLength(2);
    team.next(
      querySnapshot([
        docSnapshot("r2", { shortcut: "refund", title: "Refund", body: "Refunds take 5 days.", scope: "tenant" }),
        docSnapshot("r1", { shortcut: "hours", title: "Hours", body: "9 to 5", scope: "tenant" }),
      ]),
    );
    mine.next(querySnapshot([docSnapshot("p1", { shortcut: "hours", title: "My hours", body: "I work 10-6", scope: "personal", ownerId: "u1" })]));

    expect(canned.replies.map((r) => [r.id, r.scope])).toEqual([
      ["p1", "personal"],
      ["r1", "tenant"],
      ["r2", "tenant"],
    ]);
    expect(canned.matching("ref").map((r) => r.id)).toEqual(["r2"]);
    expect(canned.matching("10-6").map((r) => r.id)).toEqual(["p1"]);
  });

  it("stops its listeners and forgets the replies on sign-out", () => {
    canned.start("t1", "u1");
    listeners().team.next(querySnapshot([docSnapshot("r1", { shortcut: "hours", title: "H", body: "b", scope: "tenant" })]));
    canned.stop();
    expect(canned.replies).toEqual([]);
    expect(allListenersOn("tenants/t1/cannedReplies").every((l) => !l.active)).toBe(true);
  });

  it("reports a lost listener instead of showing a stale list", () => {
    canned.start("t1", "u1");
    listeners().team.error?.({ code: "permission-denied", message: "" });
    expect(canned.error).toBe("Canned replies could not be loaded.");
  });
});
