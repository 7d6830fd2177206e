import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { ApiError, isRefusal, isUnauthenticated } from "../lib/api";
import { appUser, CHAT_CONFIG, openChatSession } from "../testing/chatSession";
import {
  appModule,
  authModule,
  fakeServer,
  firebaseError,
  firestoreModule,
  resetFirebase,
  type Call,
} from "../testing/fakeFirebase";
import { ChatSession } from "./session";

let server: ReturnType<typeof fakeServer>;
let route: (call: Call) => { status: number; body?: unknown } | Error;

beforeEach(() => {
  resetFirebase();
  route = () => ({ status: 200, body: { ok: true } });
  server = fakeServer((call) => route(call));
  vi.stubGlobal("fetch", server.fetch);
});

describe("opening a session", () => {
  it("signs in on a Firebase app of its own, in memory only, as the token's app user", async () => {
    const { session } = await openChatSession(appUser("alice", "app1"));

    expect(session.appId).toBe("app1");
    expect(session.userId).toBe("alice");
    const [options, name] = appModule.initializeApp.mock.calls[0];
    expect(options).toMatchObject({ apiKey: "web-key", projectId: "demo" });
    expect(name).toMatch(/^switchboard-chat-/);
    expect(authModule.initializeAuth).toHaveBeenCalledWith(expect.anything(), { persistence: authModule.inMemoryPersistence });
    expect(authModule.signInWithCustomToken).toHaveBeenCalledWith(expect.anything(), "custom-token");
    expect(authModule.connectAuthEmulator).not.toHaveBeenCalled();
  });

  it("two widgets get two Firebase apps", async () => {
    await openChatSession(appUser("a"));
    await openChatSession(appUser("b"));

    const names = appModule.initializeApp.mock.calls.map((call) => call[1]);
    expect(new Set(names).size).toBe(2);
  });

  it("uses the emulators the config names", async () => {
    await openChatSession(appUser(), { ...CHAT_CONFIG, authHost: "127.0.0.1:9099", firestoreHost: "http://127.0.0.1:8080" });

    expect(authModule.connectAuthEmulator).toHaveBeenCalledWith(expect.anything(), "http://127.0.0.1:9099", { disableWarnings: true });
    expect(firestoreModule.connectFirestoreEmulator).toHaveBeenCalledWith(expect.anything(), "127.0.0.1", 8080);
  });

  it("needs a token", async () => {
    await expect(ChatSession.open("  ", CHAT_CONFIG)).rejects.toThrow("options.token is required");
    expect(appModule.initializeApp).not.toHaveBeenCalled();
  });

  it.each([
    ["auth/invalid-custom-token", "the token is not a valid Firebase custom token (get one from POST /v1/token)"],
    ["auth/argument-error", "the token is not a valid Firebase custom token (get one from POST /v1/token)"],
    ["auth/custom-token-mismatch", "the token was made for another Firebase project"],
    ["auth/network-request-failed", "could not reach Firebase Auth to sign in"],
    ["auth/internal-error", "sign-in failed: auth/internal-error"],
  ])("explains Firebase's %s to the developer and deletes the app", async (code, text) => {
    authModule.signInWithCustomToken.mockRejectedValueOnce(firebaseError(code));

    await expect(ChatSession.open("token", CHAT_CONFIG)).rejects.toThrow(text);

    expect(appModule.deleteApp).toHaveBeenCalledTimes(1);
  });

  it("refuses a token for another app", async () => {
    await expect(openChatSession(appUser("u1", "app2"))).rejects.toThrow(
      'the token is for app "app2", not for app "app1": mint it with this app\'s API key',
    );
    expect(appModule.deleteApp).toHaveBeenCalledTimes(1);
  });

  it("accepts any app's token when the config names none", async () => {
    const { session } = await openChatSession(appUser("u1", "app9"), { ...CHAT_CONFIG, appId: undefined });
    expect(session.appId).toBe("app9");
  });

  it.each([
    ["an agent's claims", appUser("u1", "app1", { claims: { tenantId: "app1", role: "agent", userId: "u1" } })],
    ["no userId claim", appUser("u1", "app1", { claims: { tenantId: "app1", role: "user" } })],
    ["a password sign-in", appUser("u1", "app1", { signInProvider: "password" })],
  ])("refuses a token that is not an app user's: %s", async (_what, user) => {
    await expect(openChatSession(user)).rejects.toThrow("the token is not an app user's token (mint it with POST /v1/token)");
    expect(appModule.deleteApp).toHaveBeenCalledTimes(1);
  });
});

describe("calling the chat API", () => {
  it("POSTs {apiUrl}/v1/{operation} with the user's ID token, no cookies", async () => {
    route = () => ({ status: 200, body: { id: "p1" } });
    const { session } = await openChatSession();

    const answer = await session.call<{ id: string }>("createPost", { channelId: "c1", text: "hi" });

    expect(answer).toEqual({ id: "p1" });
    const [call] = server.calls;
    expect(call.url).toBe("http://chat.test/v1/createPost");
    expect(call.headers.Authorization).toBe("Bearer id-token");
    expect(call.init.credentials).toBe("omit");
    expect(call.body).toEqual({ channelId: "c1", text: "hi" });
  });

  it("throws the dashboard's own ApiError, so one isRefusal judges both", async () => {
    route = () => ({ status: 403, body: { error: { code: "not_a_member", message: "You are not a member of this channel." } } });
    const { session } = await openChatSession();

    const exc = await session.call("createPost", {}).catch((e: unknown) => e);

    expect(exc).toBeInstanceOf(ApiError);
    expect(exc).toMatchObject({ code: "not_a_member", message: "You are not a member of this channel.", httpStatus: 403 });
    expect(isRefusal(exc)).toBe(true);
  });

  it("a 401 is tried once more with a freshly minted ID token", async () => {
    route = (call) =>
      call.headers.Authorization === "Bearer fresh-id-token" ? { status: 200, body: { id: "p1" } } : { status: 401, body: {} };
    const { session, user } = await openChatSession();

    expect(await session.call("createPost", {})).toEqual({ id: "p1" });

    expect(server.calls.map((call) => call.headers.Authorization)).toEqual(["Bearer id-token", "Bearer fresh-id-token"]);
    expect(user.getIdToken).toHaveBeenLastCalledWith(true);
  });

  it("a 401 a fresh token does not cure ends the session: session_ended now and for every later call", async () => {
    route = () => ({ status: 401, body: { error: { code: "unauthenticated", message: "invalid ID token" } } });
    const { session } = await openChatSession();

    const exc = await session.call("createPost", {}).catch((e: unknown) => e);

    expect(exc).toMatchObject({ code: "session_ended", httpStatus: 401, message: "Your chat session has ended: reload the page to sign in again." });
    expect(isUnauthenticated(exc)).toBe(true);
    expect(isRefusal(exc)).toBe(false);
    expect(server.calls).toHaveLength(2);

    route = () => ({ status: 200, body: {} });
    await expect(session.call("setRead", {})).rejects.toMatchObject({ code: "session_ended" });
    expect(server.calls).toHaveLength(2);
  });

  it("Firebase refusing a fresh token (user deleted or disabled) ends the session too", async () => {
    route = () => ({ status: 401, body: {} });
    const { session, user } = await openChatSession();
    user.getIdToken.mockImplementation(async (force?: boolean) => {
      if (force) throw firebaseError("auth/user-disabled");
      return "id-token";
    });

    await expect(session.call("mysubs")).rejects.toMatchObject({ code: "session_ended" });
    expect(server.calls).toHaveLength(1);
  });

  it("being offline while minting a token is a network error, and the session goes on", async () => {
    const { session, user } = await openChatSession();
    user.getIdToken.mockRejectedValueOnce(firebaseError("auth/network-request-failed"));

    await expect(session.call("mysubs")).rejects.toMatchObject({ code: "network", httpStatus: 0 });
    await expect(session.call("mysubs")).resolves.toEqual({ ok: true });
  });

  it("other failures are not retried", async () => {
    route = () => ({ status: 503 });
    const { session } = await openChatSession();

    await expect(session.call("createPost", {})).rejects.toMatchObject({ code: "http_503" });
    expect(server.calls).toHaveLength(1);
  });
});

describe("a call as the widget goes away (sendOnExit)", () => {
  it("is sent at once with keepalive and the ID token in hand", async () => {
    const { session } = await openChatSession();
    await session.call("mysubs");
    server.calls.length = 0;

    session.sendOnExit("setRead", { channelId: "g1", seq: 4, viewing: false });

    // Synchronously: no await between the page event and the request.
    expect(server.calls).toHaveLength(1);
    const [call] = server.calls;
    expect(call.url).toBe("http://chat.test/v1/setRead");
    expect(call.body).toEqual({ channelId: "g1", seq: 4, viewing: false });
    expect(call.headers.Authorization).toBe("Bearer id-token");
    expect(call.init).toMatchObject({ method: "POST", keepalive: true, credentials: "omit" });
  });

  it("without an ID token in hand, is an ordinary call; a failure is dropped", async () => {
    route = () => ({ status: 503 });
    const { session } = await openChatSession();

    session.sendOnExit("setRead", { channelId: "g1", viewing: false });
    await new Promise((resolve) => setTimeout(resolve, 0));

    expect(server.callsTo("/v1/setRead")).toHaveLength(1);
    expect(server.calls[0].init.keepalive).toBeUndefined();
  });

  it("sends nothing once the session is closed", async () => {
    const { session } = await openChatSession();
    await session.call("mysubs");
    await session.close();
    server.calls.length = 0;

    session.sendOnExit("setRead", { channelId: "g1", viewing: false });

    expect(server.calls).toEqual([]);
  });
});

describe("closing", () => {
  it("stops every tracked listener, signs out and deletes the app; calls fail afterwards", async () => {
    const { session } = await openChatSession();
    const first = vi.fn();
    const second = vi.fn();
    session.track(first);
    const untrack = session.track(second);
    untrack();
    expect(second).toHaveBeenCalledTimes(1);

    await session.close();
    await session.close();

    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
    expect(authModule.signOut).toHaveBeenCalledTimes(1);
    expect(appModule.deleteApp).toHaveBeenCalledTimes(1);
    await expect(session.call("mysubs")).rejects.toMatchObject({ code: "closed" });
    expect(server.calls).toEqual([]);
  });

  it("a listener started after closing is stopped at once", async () => {
    const { session } = await openChatSession();
    await session.close();
    const late = vi.fn();

    session.track(late)();

    expect(late).toHaveBeenCalledTimes(1);
  });
});
