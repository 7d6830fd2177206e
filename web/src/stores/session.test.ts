import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import {
  authModule,
  docSnapshot,
  documents,
  emitAuth,
  listenerOn,
  fakeUser,
  firebaseError,
  firestoreModule,
  resetFirebase,
  settle,
} from "../testing/fakeFirebase";
import { DEACTIVATED, ROLE_CHANGED, useSession } from "./session";

initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: "a", create_app: "c", chat_api: "x" } });

let session: ReturnType<typeof useSession>;

beforeEach(() => {
  resetFirebase();
  setActivePinia(createPinia());
  session = useSession();
});

function agent(fields: Parameters<typeof fakeUser>[0] = {}) {
  return fakeUser({ uid: "agent-1", email: "ana@demo.test", claims: { tenantId: "t1", role: "agent" }, ...fields });
}

describe("who is signed in", () => {
  it("starts unknown, and says signed out when Auth knows no one", async () => {
    expect(session.phase).toBe("starting");
    session.start();

    await emitAuth(null);

    expect(session.phase).toBe("signedOut");
    expect(session.tenantId).toBeNull();
  });

  it("takes the tenant and role from the token's claims, then the names from Firestore", async () => {
    documents.set("tenants/t1", { name: "Demo Shop" });
    documents.set("tenants/t1/agents/agent-1", { name: "Ana Lima" });
    session.start();

    await emitAuth(agent({ displayName: null }));

    expect(session.phase).toBe("signedIn");
    expect(session.uid).toBe("agent-1");
    expect(session.tenantId).toBe("t1");
    expect(session.role).toBe("agent");
    await settle();
    expect(session.tenantName).toBe("Demo Shop");
    expect(session.agentName).toBe("Ana Lima");
  });

  it("shows the e-mail and tenant id until (or if) the names cannot be read", async () => {
    firestoreModule.getDoc
      .mockRejectedValueOnce(firebaseError("permission-denied"))
      .mockRejectedValueOnce(firebaseError("permission-denied"));
    session.start();

    await emitAuth(agent());
    await settle();

    expect(session.agentName).toBe("ana@demo.test");
    expect(session.tenantName).toBe("t1");
  });

  it("admins are agents too", async () => {
    session.start();
    await emitAuth(agent({ claims: { tenantId: "t1", role: "admin" } }));
    expect(session.phase).toBe("signedIn");
    expect(session.role).toBe("admin");
  });

  it("owners are agents too", async () => {
    session.start();
    await emitAuth(agent({ claims: { tenantId: "t1", role: "owner" } }));
    expect(session.phase).toBe("signedIn");
    expect(session.role).toBe("owner");
  });

  it("sends an app's developer to the developer pages", async () => {
    session.start();
    await emitAuth(fakeUser({ claims: { tenantId: "app1", role: "developer" } }));
    expect(authModule.signOut).toHaveBeenCalledTimes(1);
    expect(session.error).toContain("/developers");
  });

  it("signs out at once when the member's directory entry is deactivated", async () => {
    session.start();
    await emitAuth(agent());
    const watch = listenerOn("tenants/t1/agents/agent-1");

    watch.next(docSnapshot("agent-1", { role: "agent", active: true }));
    expect(authModule.signOut).not.toHaveBeenCalled();
    watch.next(docSnapshot("agent-1", { role: "agent", active: false }));
    await settle();

    expect(authModule.signOut).toHaveBeenCalledTimes(1);
    expect(session.phase).toBe("signedOut");
    expect(session.error).toBe(DEACTIVATED);
    await emitAuth(null);
    expect(session.error).toBe(DEACTIVATED);
    expect(watch.active).toBe(false);
  });

  it("a role change during the session ends it (the server revoked it)", async () => {
    session.start();
    await emitAuth(agent());
    const watch = listenerOn("tenants/t1/agents/agent-1");

    watch.next(docSnapshot("agent-1", { role: "agent" }));
    watch.next(docSnapshot("agent-1", { role: "agent", name: "Ana L." }));
    expect(authModule.signOut).not.toHaveBeenCalled();
    watch.next(docSnapshot("agent-1", { role: "admin" }));
    await settle();

    expect(authModule.signOut).toHaveBeenCalledTimes(1);
    expect(session.error).toBe(ROLE_CHANGED);
  });

  it("a directory entry that disagrees with the token from the start does not lock the member out", async () => {
    session.start();
    await emitAuth(agent());

    listenerOn("tenants/t1/agents/agent-1").next(docSnapshot("agent-1", { role: "admin" }));
    await settle();

    expect(authModule.signOut).not.toHaveBeenCalled();
    expect(session.phase).toBe("signedIn");
  });

  it("signs out an account that is not an agent of a workspace, and says why", async () => {
    session.start();

    await emitAuth(fakeUser({ claims: { tenantId: "app1", role: "user" } }));

    expect(authModule.signOut).toHaveBeenCalledTimes(1);
    expect(session.phase).not.toBe("signedIn");
    expect(session.error).toBe("This account is not an agent of any workspace. Ask an admin to invite you.");
    // Auth then reports no one: the sign-in page shows, the reason still on it.
    await emitAuth(null);
    expect(session.phase).toBe("signedOut");
    expect(session.error).toContain("not an agent");
  });

  it("an account without a tenant is refused the same way", async () => {
    session.start();
    await emitAuth(fakeUser({ claims: { role: "agent" } }));
    expect(authModule.signOut).toHaveBeenCalledTimes(1);
    expect(session.tenantId).toBeNull();
  });

  it("forgets the agent when Auth signs them out", async () => {
    session.start();
    await emitAuth(agent({ displayName: "Ana" }));
    expect(session.agentName).toBe("Ana");

    await emitAuth(null);

    expect(session).toMatchObject({ phase: "signedOut", tenantId: null, role: null, agentName: "", tenantName: "", uid: "" });
  });

  it("listens to Auth once however often it is started", () => {
    session.start();
    session.start();
    expect(authModule.onAuthStateChanged).toHaveBeenCalledTimes(1);
  });
});

describe("signing in and out", () => {
  it("signs in with the trimmed address", async () => {
    await session.signIn("  ana@demo.test ", "secret");
    expect(authModule.signInWithEmailAndPassword).toHaveBeenCalledWith(expect.anything(), "ana@demo.test", "secret");
    expect(session.error).toBeNull();
  });

  it.each([
    ["auth/invalid-credential", "Wrong email or password."],
    ["auth/wrong-password", "Wrong email or password."],
    ["auth/user-not-found", "Wrong email or password."],
    ["auth/user-disabled", "This account was deactivated. Ask an admin of your workspace."],
    ["auth/too-many-requests", "Too many attempts. Wait a moment and try again."],
    ["auth/network-request-failed", "Could not reach the sign-in service."],
    ["auth/internal-error", "Sign-in failed. Try again."],
  ])("explains %s to the agent, and still rejects", async (code, text) => {
    authModule.signInWithEmailAndPassword.mockRejectedValueOnce(firebaseError(code));

    await expect(session.signIn("ana@demo.test", "x")).rejects.toMatchObject({ code });

    expect(session.error).toBe(text);
  });

  it("a new attempt clears the previous error", async () => {
    authModule.signInWithEmailAndPassword.mockRejectedValueOnce(firebaseError("auth/invalid-credential"));
    await session.signIn("a@b.c", "x").catch(() => undefined);

    await session.signIn("a@b.c", "y");

    expect(session.error).toBeNull();
  });

  it("signing out leaves the signed-in UI before Firebase signs out", async () => {
    session.start();
    await emitAuth(agent());
    let phaseAtSignOut = "";
    authModule.signOut.mockImplementationOnce(async () => {
      phaseAtSignOut = session.phase;
    });

    await session.signOut();

    expect(phaseAtSignOut).toBe("signedOut");
    expect(authModule.signOut).toHaveBeenCalledTimes(1);
  });
});
