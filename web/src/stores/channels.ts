/** The channels page (admin console): the tenant's channels listened to live with their health, and
 * the actions that change them through agent_api (test, connect, rotate, reconnect, disconnect).
 *
 * Tokens go to the server in the one request that tests or stores them and are never kept here: the
 * form clears them, and a channel document carries only `credential.last4`. The verdict mirrors
 * `channel_verdict` in shared/cli.py (the CLI's `channel-health`): first match wins. */
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { collection, onSnapshot, type DocumentData, type QueryDocumentSnapshot, type Unsubscribe } from "firebase/firestore";

import { api, ApiError, type ChannelAccountForm, type ConnectedChannel } from "../lib/api";
import { db } from "../lib/firebase";
import { CHANNEL_LABELS, millis } from "../lib/types";

export const STALE_AFTER_MS = 24 * 3600_000;
export const FAILING_WITHIN_MS = 3600_000;
const TOKEN_ERROR_KINDS = ["token_expired", "permission"];

export type Verdict = "healthy" | "stale" | "failing" | "token expired" | "disconnected";

export interface ChannelError {
  code: string | null;
  reason: string;
  kind: string | null;
  atMs: number | null;
}

export interface ChannelRow {
  id: string;
  kind: string;
  name: string;
  externalId: string;
  providerName: string;
  connectedAtMs: number | null;
  disconnectedAtMs: number | null;
  lastWebhookAtMs: number | null;
  lastError: ChannelError | null;
  tokenExpiresAtMs: number | null;
  tokenRotatedAtMs: number | null;
  credential: { set: boolean; last4: string } | null;
}

/** The fields of the connect form each provider takes, with what the provider calls them. */
export interface KindForm {
  kind: string;
  label: string;
  externalId: string;
  token: string;
  options: { field: "pageId" | "accountSid" | "businessAccountId"; label: string; required: boolean }[];
  /** Telegram's bot id is the token's digits before ':'; derived instead of asked. */
  idFromToken?: boolean;
}

export const KIND_FORMS: KindForm[] = [
  { kind: "whatsapp", label: CHANNEL_LABELS.whatsapp, externalId: "Phone number ID", token: "Access token (system user)", options: [{ field: "businessAccountId", label: "WhatsApp Business Account ID (templates)", required: false }] },
  { kind: "messenger", label: CHANNEL_LABELS.messenger, externalId: "Page ID", token: "Page access token", options: [] },
  { kind: "instagram", label: CHANNEL_LABELS.instagram, externalId: "Instagram account ID", token: "Page access token", options: [{ field: "pageId", label: "Linked Facebook Page ID", required: true }] },
  { kind: "telegram", label: CHANNEL_LABELS.telegram, externalId: "Bot ID", token: "Bot token (from @BotFather)", options: [], idFromToken: true },
  { kind: "twilio", label: `${CHANNEL_LABELS.twilio} (Twilio)`, externalId: "Number (+E.164, or whatsapp:+E.164)", token: "Auth token", options: [{ field: "accountSid", label: "Account SID", required: true }] },
];

const text = (value: unknown): string => (value == null ? "" : String(value));

export function toChannelRow(snapshot: QueryDocumentSnapshot): ChannelRow {
  const d: DocumentData = snapshot.data({ serverTimestamps: "estimate" });
  const health: DocumentData = d.health ?? {};
  const error = health.lastError && typeof health.lastError === "object" ? (health.lastError as DocumentData) : null;
  const credential = d.credential && typeof d.credential === "object" ? (d.credential as DocumentData) : null;
  return {
    id: snapshot.id,
    kind: text(d.kind),
    name: text(d.name) || snapshot.id,
    externalId: text(d.externalId),
    providerName: text(d.providerName),
    connectedAtMs: millis(d.connectedAt),
    disconnectedAtMs: millis(d.disconnectedAt),
    lastWebhookAtMs: millis(health.lastWebhookAt),
    lastError: error
      ? { code: error.code == null ? null : String(error.code), reason: text(error.reason ?? error.title ?? error.detail), kind: error.kind ?? null, atMs: millis(error.at) }
      : null,
    tokenExpiresAtMs: millis(health.tokenExpiresAt),
    tokenRotatedAtMs: millis(health.tokenRotatedAt),
    credential: credential ? { set: Boolean(credential.set), last4: text(credential.last4).slice(-4) } : null,
  };
}

/** "just now", "5 min ago", "3 h ago", "2 d ago"; "in 3 d" for a time to come; "never". */
export function ago(ms: number | null, now: number): string {
  if (ms === null) return "never";
  const span = (seconds: number): string => {
    if (seconds < 7200) return `${Math.max(1, Math.floor(seconds / 60))} min`;
    if (seconds < 172800) return `${Math.floor(seconds / 3600)} h`;
    return `${Math.floor(seconds / 86400)} d`;
  };
  const seconds = (now - ms) / 1000;
  if (seconds < 0) return seconds > -60 ? "just now" : `in ${span(-seconds)}`;
  if (seconds < 60) return "just now";
  return `${span(seconds)} ago`;
}

/** The channel's verdict and why, as `channel-health` tells it. */
export function verdictOf(row: ChannelRow, now: number): { verdict: Verdict; why: string } {
  if (row.disconnectedAtMs !== null) return { verdict: "disconnected", why: `disconnected ${ago(row.disconnectedAtMs, now)}` };
  const error = row.lastError;
  if (row.tokenExpiresAtMs !== null && row.tokenExpiresAtMs <= now) {
    return { verdict: "token expired", why: `token expired ${ago(row.tokenExpiresAtMs, now)}` };
  }
  const superseded =
    error !== null && TOKEN_ERROR_KINDS.includes(error.kind ?? "") && row.tokenRotatedAtMs !== null && (error.atMs === null || error.atMs <= row.tokenRotatedAtMs);
  if (error && error.kind === "token_expired" && !superseded) {
    return { verdict: "token expired", why: `the provider refused the token ${ago(error.atMs, now)} (code ${error.code})` };
  }
  if (error && error.atMs !== null && now - error.atMs < FAILING_WITHIN_MS && !superseded) {
    return { verdict: "failing", why: `error ${error.code} ${ago(error.atMs, now)}` };
  }
  const since = Math.max(row.lastWebhookAtMs ?? -Infinity, row.connectedAtMs ?? -Infinity);
  if (!Number.isFinite(since) || now - since > STALE_AFTER_MS) {
    return { verdict: "stale", why: Number.isFinite(since) ? `no webhook for ${ago(since, now).replace(" ago", "")}` : "no webhook ever" };
  }
  return {
    verdict: "healthy",
    why: row.lastWebhookAtMs !== null ? `last webhook ${ago(row.lastWebhookAtMs, now)}` : "connected, no webhook yet",
  };
}

/** The channel id the server gives a new channel (shared/channel_console.py channel_id_for). */
export function channelIdFor(kind: string, externalId: string): string {
  return `${kind}-${externalId.replace(/[^A-Za-z0-9_-]+/g, "")}`.slice(0, 100);
}

/** What the form sends for `kind`: Telegram's bot id from its token, empty options left out. */
export function accountOf(form: KindForm, values: { externalId: string; token: string; options: Record<string, string> }): ChannelAccountForm {
  const token = values.token.trim();
  const externalId = form.idFromToken ? token.split(":")[0] ?? "" : values.externalId.trim();
  const account: ChannelAccountForm = { kind: form.kind, externalId, token };
  for (const option of form.options) {
    const value = (values.options[option.field] ?? "").trim();
    if (value) account[option.field] = value;
  }
  return account;
}

export const useChannels = defineStore("channels", () => {
  const rows = ref<ChannelRow[]>([]);
  const loaded = ref(false);
  const problem = ref<string | null>(null);
  const busy = ref<string | null>(null); // the action running: one at a time
  let unsubscribe: Unsubscribe | null = null;

  const connected = computed(() => rows.value.filter((row) => row.disconnectedAtMs === null));

  function start(tenantId: string): void {
    stop();
    unsubscribe = onSnapshot(
      collection(db(), "tenants", tenantId, "channels"),
      (snapshot) => {
        rows.value = snapshot.docs
          .map(toChannelRow)
          .filter((row) => row.kind !== "app")
          .sort((a, b) => Number(a.disconnectedAtMs !== null) - Number(b.disconnectedAtMs !== null) || a.name.localeCompare(b.name));
        loaded.value = true;
      },
      (exc) => {
        rows.value = [];
        problem.value = `The channels could not be loaded (${exc.code}).`;
      },
    );
  }

  function stop(): void {
    unsubscribe?.();
    unsubscribe = null;
    rows.value = [];
    loaded.value = false;
  }

  async function run<T>(what: string, action: () => Promise<T>): Promise<T | null> {
    problem.value = null;
    busy.value = what;
    try {
      return await action();
    } catch (exc) {
      problem.value = exc instanceof ApiError || exc instanceof Error ? exc.message : String(exc);
      return null;
    } finally {
      busy.value = null;
    }
  }

  const test = (account: ChannelAccountForm) => run("test", () => api.testChannel(account));
  const connect = (account: ChannelAccountForm, name: string, channelId?: string): Promise<ConnectedChannel | null> =>
    run("connect", () => api.connectChannel({ ...account, name, ...(channelId ? { channelId } : {}) }));
  const rotate = (channelId: string, token: string) => run(`rotate:${channelId}`, () => api.rotateChannel(channelId, token.trim()));
  const reconnect = (channelId: string) => run(`reconnect:${channelId}`, () => api.reconnectChannel(channelId));
  const disconnect = (channelId: string) => run(`disconnect:${channelId}`, () => api.disconnectChannel(channelId));

  return { rows, connected, loaded, problem, busy, start, stop, test, connect, rotate, reconnect, disconnect };
});
