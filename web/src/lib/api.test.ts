import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { api, ApiError, callFunction, idTokenCredential, isRefusal, isUnauthenticated } from "./api";
import { initFirebase } from "./firebase";
import { fakeAuth, fakeServer, fakeUser, resetFirebase } from "../testing/fakeFirebase";

const CONFIG = {
  projectId: "demo-test",
  apiKey: "fake-api-key",
  functions: {
    send_message: "http://functions.test/send_message",
    agent_api: "http://functions.test/agent_api",
    create_app: "http://functions.test/create_app",
    chat_api: "http://functions.test/chat_api",
  },
};

beforeEach(() => {
  resetFirebase();
  initFirebase(CONFIG);
});

describe("callFunction", () => {
  it("POSTs JSON with the credential as a header and no cookies, and returns the answer", async () => {
    const server = fakeServer(() => ({ status: 200, body: { id: "p1" } }));
    vi.stubGlobal("fetch", server.fetch);

    const answer = await callFunction<{ id: string }>("http://functions.test/x", { a: 1 }, "Bearer t", { "X-User-Id": "u1" });

    expect(answer).toEqual({ id: "p1" });
    const [call] = server.calls;
    expect(call.init.method).toBe("POST");
    expect(call.init.credentials).toBe("omit");
    expect(call.headers).toEqual({ "X-User-Id": "u1", Authorization: "Bearer t", "Content-Type": "application/json" });
    expect(call.body).toEqual({ a: 1 });
  });

  it("throws the server's error code, message, status and details as one ApiError", async () => {
    const details = { windowExpiredAtMs: 5 };
    vi.stubGlobal(
      "fetch",
      fakeServer(() => ({ status: 422, body: { error: { code: "reply_window_closed", message: "The window closed.", details } } })).fetch,
    );

    const exc = await callFunction("http://functions.test/x", {}, "Bearer t").catch((e: unknown) => e);

    expect(exc).toBeInstanceOf(ApiError);
    expect(exc).toMatchObject({ code: "reply_window_closed", message: "The window closed.", httpStatus: 422, details });
  });

  it("names an error answer without a body after its status", async () => {
    vi.stubGlobal("fetch", fakeServer(() => ({ status: 502 })).fetch);

    const exc = await callFunction("http://functions.test/x", {}, "Bearer t").catch((e: unknown) => e);

    expect(exc).toMatchObject({ code: "http_502", message: "The server answered 502.", httpStatus: 502 });
  });

  it("reports an unreachable server as code network, status 0", async () => {
    vi.stubGlobal("fetch", fakeServer(() => new Error("offline")).fetch);

    const exc = await callFunction("http://functions.test/x", {}, "Bearer t").catch((e: unknown) => e);

    expect(exc).toMatchObject({ code: "network", httpStatus: 0 });
    expect(isRefusal(exc)).toBe(false);
  });
});

describe("isRefusal and isUnauthenticated", () => {
  const error = (status: number) => new ApiError("code", "message", status);

  it("call the request refused for 4xx other than 401, 408 and 429", () => {
    for (const status of [400, 403, 404, 409, 413, 422]) expect(isRefusal(error(status)), `${status}`).toBe(true);
  });

  it("leave Retry for failures resending can cure: network, 5xx, 408, 429", () => {
    for (const status of [0, 408, 429, 500, 502, 503]) expect(isRefusal(error(status)), `${status}`).toBe(false);
  });

  it("treat a 401 as a refused credential, not a refused request", () => {
    expect(isRefusal(error(401))).toBe(false);
    expect(isUnauthenticated(error(401))).toBe(true);
    expect(isUnauthenticated(error(403))).toBe(false);
  });

  it("say nothing about errors that are not ApiErrors", () => {
    expect(isRefusal(new Error("boom"))).toBe(false);
    expect(isRefusal({ httpStatus: 400 })).toBe(false);
    expect(isUnauthenticated({ httpStatus: 401 })).toBe(false);
  });
});

describe("the dashboard's calls", () => {
  it("carry the signed-in agent's ID token", async () => {
    fakeAuth.currentUser = fakeUser({ uid: "agent-1" });
    const server = fakeServer(() => ({ status: 200, body: { messageId: "m1", status: "queued", created: true } }));
    vi.stubGlobal("fetch", server.fetch);

    const result = await api.sendMessage({ conversationId: "c1", clientMessageId: "k1", message: { type: "text", text: "hi" } });

    expect(result.messageId).toBe("m1");
    expect(server.calls[0].url).toBe(CONFIG.functions.send_message);
    expect(server.calls[0].headers.Authorization).toBe("Bearer id-token");
    expect(server.calls[0].body).toEqual({ conversationId: "c1", clientMessageId: "k1", message: { type: "text", text: "hi" } });
  });

  it("name the agent_api action and only the fields it takes", async () => {
    fakeAuth.currentUser = fakeUser();
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetch);

    await api.setStatus("c1", "resolved");
    await api.setStatus("c1", "snoozed", 1234);
    await api.assign("c1", null);
    await api.markRead("c1");

    expect(server.calls.map((call) => call.body)).toEqual([
      { action: "set_status", conversationId: "c1", status: "resolved" },
      { action: "set_status", conversationId: "c1", status: "snoozed", snoozeUntilMs: 1234 },
      { action: "assign", conversationId: "c1", assigneeId: null },
      { action: "mark_read", conversationId: "c1" },
    ]);
    expect(server.calls.every((call) => call.url === CONFIG.functions.agent_api)).toBe(true);
  });

  it("refuse to call anything while signed out (401, nothing sent)", async () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetch);

    const exc = await api.markRead("c1").catch((e: unknown) => e);

    expect(exc).toMatchObject({ code: "unauthenticated", httpStatus: 401 });
    expect(server.calls).toHaveLength(0);
  });

  it("force a fresh ID token when asked (claims changed)", async () => {
    const user = fakeUser();
    fakeAuth.currentUser = user;

    expect(await idTokenCredential(true)).toBe("Bearer fresh-id-token");
    expect(user.getIdToken).toHaveBeenCalledWith(true);
  });
});
