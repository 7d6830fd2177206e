import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { allListenersOn, docSnapshot, fakeAuth, fakeServer, fakeUser, listenerOn, querySnapshot, resetFirebase } from "../testing/fakeFirebase";
import { accountOf, ago, channelIdFor, KIND_FORMS, toChannelRow, useChannels, verdictOf, type ChannelRow } from "./channels";

const AGENT_API = "http://f.test/agent_api";
initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: AGENT_API, create_app: "c", chat_api: "x" } });

const NOW = Date.UTC(2026, 11, 7, 13, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

let channels: ReturnType<typeof useChannels>;
let server: ReturnType<typeof fakeServer>;

beforeEach(() => {
  resetFirebase();
  fakeAuth.currentUser = fakeUser({ uid: "admin-1" });
  server = fakeServer(() => ({ status: 200, body: { ok: true, account: { name: "Corner Shop" } } }));
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
  channels = useChannels();
});

afterEach(() => vi.unstubAllGlobals());

function row(fields: Partial<ChannelRow> = {}): ChannelRow {
  return {
    id: "c1",
    kind: "messenger",
    name: "Page",
    externalId: "1",
    providerName: "",
    connectedAtMs: NOW - 10 * MIN,
    disconnectedAtMs: null,
    lastWebhookAtMs: null,
    lastError: null,
    tokenExpiresAtMs: null,
    tokenRotatedAtMs: null,
    credential: { set: true, last4: "abcd" },
    ...fields,
  };
}

describe("a channel's health", () => {
  it("counts silence from connecting: a channel connected minutes ago is not stale", () => {
    expect(verdictOf(row(), NOW)).toEqual({ verdict: "healthy", why: "connected, no webhook yet" });
    expect(verdictOf(row({ connectedAtMs: NOW - 25 * HOUR }), NOW)).toEqual({ verdict: "stale", why: "no webhook for 25 h" });
    // A reconnection starts the count again, even after a long silence.
    expect(verdictOf(row({ connectedAtMs: NOW - 2 * MIN, lastWebhookAtMs: NOW - 72 * HOUR }), NOW).verdict).toBe("healthy");
    expect(verdictOf(row({ connectedAtMs: null }), NOW)).toEqual({ verdict: "stale", why: "no webhook ever" });
  });

  it("says when the last webhook came, and tells failing, expired and disconnected channels apart", () => {
    expect(verdictOf(row({ lastWebhookAtMs: NOW - 5_000 }), NOW)).toEqual({ verdict: "healthy", why: "last webhook just now" });
    const failing = row({ lastError: { code: "368", reason: "blocked", kind: null, atMs: NOW - 10 * MIN } });
    expect(verdictOf(failing, NOW)).toEqual({ verdict: "failing", why: "error 368 10 min ago" });
    const refused = row({ lastError: { code: "190", reason: "expired", kind: "token_expired", atMs: NOW - 3 * HOUR } });
    expect(verdictOf(refused, NOW).verdict).toBe("token expired");
    // Rotating the token after the refusal supersedes it.
    expect(verdictOf({ ...refused, tokenRotatedAtMs: NOW - HOUR }, NOW).verdict).toBe("healthy");
    expect(verdictOf(row({ tokenExpiresAtMs: NOW - 1 }), NOW).verdict).toBe("token expired");
    expect(verdictOf(row({ disconnectedAtMs: NOW - 2 * HOUR }), NOW)).toEqual({ verdict: "disconnected", why: "disconnected 2 h ago" });
    expect(ago(null, NOW)).toBe("never");
    expect(ago(NOW + 3 * 86_400_000, NOW)).toBe("in 3 d");
  });

  it("reads a channel document without ever holding more than the token's last 4 characters", () => {
    const snapshot = docSnapshot("whatsapp-1", {
      kind: "whatsapp",
      name: "Support line",
      externalId: "1",
      connectedAt: new Date(NOW - MIN),
      credential: { set: true, last4: "wxyz-and-more" },
      health: { lastWebhookAt: new Date(NOW - 2 * MIN), lastError: { code: 131031, reason: "locked", at: new Date(NOW - MIN) } },
    });
    const read = toChannelRow(snapshot as never);
    expect(read.credential).toEqual({ set: true, last4: "more" });
    expect(read.lastWebhookAtMs).toBe(NOW - 2 * MIN);
    expect(read.lastError).toEqual({ code: "131031", reason: "locked", kind: null, atMs: NOW - MIN });
  });
});

describe("the connect form", () => {
  it("derives a bot's id from its token and leaves empty options out", () => {
    const telegram = KIND_FORMS.find((form) => form.kind === "telegram")!;
    expect(accountOf(telegram, { externalId: "", token: " 7001:AAsecret ", options: {} })).toEqual({ kind: "telegram", externalId: "7001", token: "7001:AAsecret" });
    const whatsapp = KIND_FORMS.find((form) => form.kind === "whatsapp")!;
    expect(accountOf(whatsapp, { externalId: "109", token: "t", options: { businessAccountId: " " } })).toEqual({ kind: "whatsapp", externalId: "109", token: "t" });
    expect(channelIdFor("twilio", "whatsapp:+15550100")).toBe("twilio-whatsapp15550100");
  });
});

describe("the channels store", () => {
  it("follows the tenant's channels live, connected ones first, and stops listening", () => {
    channels.start("t1");
    listenerOn("tenants/t1/channels").next(
      querySnapshot([
        docSnapshot("old", { kind: "messenger", name: "A old page", disconnectedAt: new Date(NOW) }),
        docSnapshot("wa", { kind: "whatsapp", name: "Zed line" }),
        docSnapshot("chat", { kind: "app", name: "In-app" }),
      ]),
    );
    expect(channels.rows.map((r) => r.id)).toEqual(["wa", "old"]);
    expect(channels.connected.map((r) => r.id)).toEqual(["wa"]);
    channels.stop();
    expect(allListenersOn("tenants/t1/channels").every((listener) => !listener.active)).toBe(true);
  });

  it("tests, connects, rotates, reconnects and disconnects through agent_api", async () => {
    const account = { kind: "messenger", externalId: "42", token: "EAAtoken" };
    expect(await channels.test(account)).toEqual({ ok: true, account: { name: "Corner Shop" } });
    await channels.connect(account, "Corner Shop");
    await channels.rotate("messenger-42", " EAAnew ");
    await channels.reconnect("messenger-42");
    await channels.disconnect("messenger-42");
    expect(server.calls.map((call) => [call.url, call.body])).toEqual([
      [AGENT_API, { action: "test_channel", ...account }],
      [AGENT_API, { action: "connect_channel", ...account, name: "Corner Shop" }],
      [AGENT_API, { action: "rotate_channel", channelId: "messenger-42", token: "EAAnew" }],
      [AGENT_API, { action: "reconnect_channel", channelId: "messenger-42" }],
      [AGENT_API, { action: "disconnect_channel", channelId: "messenger-42" }],
    ]);
    expect(channels.busy).toBeNull();
  });

  it("shows the provider's refusal and clears it on the next action", async () => {
    server.answer(() => ({
      status: 400,
      body: { error: { code: "provider_refused", message: "the provider refused the token: Invalid OAuth access token (Meta error 190)" } },
    }));
    expect(await channels.test({ kind: "messenger", externalId: "42", token: "bad" })).toBeNull();
    expect(channels.problem).toContain("Meta error 190");
    server.answer(() => ({ status: 200, body: { channelId: "c1", subscribed: true } }));
    await channels.reconnect("c1");
    expect(channels.problem).toBeNull();
  });
});
