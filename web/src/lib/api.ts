/** Calling Switchboard's HTTPS functions, for the dashboard and the embeddable chat alike: one
 * ApiError, one isRefusal, one callFunction. The dashboard calls `send_message` and `agent_api` with
 * the signed-in agent's ID token (`api` below); the embed (src/embed/session.ts) calls the chat API
 * with its user's ID token through callFunction. Errors arrive as
 * `{"error": {"code", "message", "details"?}}` and are thrown as ApiError.
 *
 * The embed bundles this module (vite.embed.config.ts): what it does not use (`api`,
 * `idTokenCredential`, and with them ./firebase) is tree-shaken out of its script. */
import type { ConversationStatus, OutgoingMessage } from "./types";
import type { SignedMedia, SignedUpload } from "./mediaFiles";
import { auth, runtimeConfig } from "./firebase";
import type { OperationsOverview, ReplayRow } from "./operations";
import type { WorkspaceSettings } from "./workspaceSettings";

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A refusal of the request itself, which resending it unchanged cannot turn into a success
 * (validation, reply window closed, not found, forbidden, conflict): the dashboard's composer gives
 * the draft back with the reason instead of offering Retry; the embed shows the reason as final.
 *
 * Not refusals: network failures (status 0) and 5xx (transient), 408 and 429 (later), and 401.
 * A 401 refuses the CREDENTIAL, not the request: the same request succeeds with a valid one, and
 * what it takes to get one depends on who holds it, so callers that care ask isUnauthenticated():
 * - the dashboard: the agent's Firebase session renews its ID token by itself, and a session the
 *   server revoked (role changed, account disabled) ends in a sign-out and a new sign-in. The send
 *   stays pending with Retry, which resends the same clientMessageId (deduplicated by the server).
 * - the embed: its session was signed in with a custom token the widget cannot renew. ChatSession
 *   retries a 401 once with a freshly minted ID token; a second 401 (or Firebase refusing to mint
 *   one) means the custom token's session is no longer valid: the call fails with code
 *   `session_ended` (still 401), shown as final, and every later call fails the same way at once
 *   (the host page has to mount the widget again with a new token). */
export function isRefusal(exc: unknown): exc is ApiError {
  return exc instanceof ApiError && exc.httpStatus >= 400 && exc.httpStatus < 500 && ![401, 408, 429].includes(exc.httpStatus);
}

/** The server refused the credential (401): see isRefusal for what each caller makes of it. */
export function isUnauthenticated(exc: unknown): exc is ApiError {
  return exc instanceof ApiError && exc.httpStatus === 401;
}

/** POST JSON to one of Switchboard's HTTPS functions with the given credential (`Bearer ...`): the
 * answer, or an ApiError carrying the server's machine-readable code (`network`, status 0, when the
 * server could not be reached; `http_<status>` when the answer carried no error code). No cookies
 * are sent (`credentials: "omit"`): the credential is the header, and the embed runs on other
 * people's sites. */
export async function callFunction<T>(
  url: string,
  body: unknown,
  authorization: string,
  headers: Record<string, string> = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      // No credential ("") sends no Authorization header (an invitation link's own token is in the body).
      headers: { ...headers, ...(authorization ? { Authorization: authorization } : {}), "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
  } catch {
    throw new ApiError("network", "Could not reach the server. Check your connection and retry.", 0);
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const error = payload?.error;
    throw new ApiError(
      error?.code ?? `http_${response.status}`,
      error?.message ?? `The server answered ${response.status}.`,
      response.status,
      error?.details,
    );
  }
  return payload as T;
}

/** The signed-in user's ID token as a credential (`forceRefresh` after their claims changed). */
export async function idTokenCredential(forceRefresh = false): Promise<string> {
  const user = auth().currentUser;
  if (!user) throw new ApiError("unauthenticated", "You are signed out.", 401);
  return `Bearer ${await user.getIdToken(forceRefresh)}`;
}

async function post<T>(url: string, body: unknown): Promise<T> {
  return callFunction<T>(url, body, await idTokenCredential());
}

/** What the channels page's connect form sends: the provider account and the options its kind
 * takes (pageId: Instagram's linked Page; accountSid: Twilio; businessAccountId: WhatsApp's WABA). */
export interface ChannelAccountForm {
  kind: string;
  externalId: string;
  token: string;
  pageId?: string;
  accountSid?: string;
  businessAccountId?: string;
}

export interface ConnectedChannel {
  channelId: string;
  route: string;
  account: { name?: string };
  subscribed: boolean;
  note: string | null;
}

export interface SendRequest {
  conversationId: string;
  clientMessageId: string;
  message: OutgoingMessage;
  useHumanAgentTag?: boolean;
}

export interface SendResult {
  messageId: string;
  status: "queued" | "note";
  created: boolean;
}

export type BulkOperation =
  | { op: "assign"; assigneeId: string | null }
  | { op: "label"; add: string[]; remove?: string[] }
  | { op: "status"; status: Exclude<ConversationStatus, "snoozed"> };

export interface BulkResult {
  results: Record<string, { ok: true } | { ok: false; code: string; message: string }>;
  succeeded: number;
  failed: number;
}

/** What notifies an agent, and when not (agent_api `save_notification_settings`). */
export type NotificationEvent = "new_conversation" | "message" | "mention" | "assigned";

export interface NotificationPreferences {
  events: Record<NotificationEvent, boolean>;
  quietHours: { enabled: boolean; start: string; end: string; timeZone: string };
}

export interface NotificationSettings extends NotificationPreferences {
  /** How many browsers receive this agent's web push. */
  browsers: number;
}

/** A canned reply as agent_api answers it and Firestore holds it (`tenants/{t}/cannedReplies/{id}`). */
export interface CannedReply {
  id: string;
  shortcut: string;
  title: string;
  body: string;
  scope: "tenant" | "personal";
  ownerId?: string | null;
}

export interface CannedReplyDraft {
  id?: string;
  shortcut: string;
  title: string;
  body: string;
  scope: "tenant" | "personal";
}

/** A provider's message template as agent_api `list_templates` answers it (shared/templates.py). */
export interface MessageTemplate {
  id: string | null;
  name: string;
  language: string;
  status: string;
  category: string | null;
  header: string | null;
  body: string;
  footer: string | null;
  parameterCount: number;
  /** The parameters' names for a template that names them ({{first_name}}), in order; else empty. */
  parameterNames?: string[];
}

export interface TemplateList {
  listed: boolean;
  templates: MessageTemplate[];
  fetchedAtMs: number | null;
}

// --- search and the timeline (agent_api actions "search" and "timeline") ---

export interface SearchRequest {
  query: string;
  channel?: string;
  status?: ConversationStatus;
  label?: string;
  assigneeId?: string;
  direction?: "in" | "out" | "note";
  fromMs?: number;
  toMs?: number;
  cursor?: string;
  pageSize?: number;
}

/** One matching message: `snippet` is the text around the match, `highlights` [start, end) offsets in it. */
export interface SearchHit {
  conversationId: string;
  messageId: string;
  sentAtMs: number;
  direction: string;
  type: string;
  channel: string | null;
  snippet: string;
  highlights: Array<[number, number]>;
  sender: { kind: string | null; name: string | null };
  contact: { id: string | null; name: string | null };
}

export interface ContactHit {
  contactId: string;
  name: string | null;
  handle: string | null;
  channel: string | null;
  conversationId: string | null;
  highlights: Array<[number, number]>;
}

export interface SearchAnswer {
  results: SearchHit[];
  contacts: ContactHit[];
  next: string | null;
}

export interface TimelineRequest {
  fromMs?: number;
  toMs?: number;
  order?: "newest" | "oldest";
  types?: string[];
  channels?: string[];
  directions?: string[];
  pageSize?: number;
  cursor?: string;
}

export interface TimelineMessage {
  conversationId: string;
  messageId: string;
  sentAtMs: number;
  direction: string;
  type: string;
  channel: string | null;
  text: string | null;
  sender: { kind: string | null; name: string | null };
  contact: { id: string | null; name: string | null };
}

export interface TimelineAnswer {
  messages: TimelineMessage[];
  next: string | null;
}

export interface AuditEntry {
  id: string;
  action: string;
  actorId: string;
  actorName: string;
  actorRole: string;
  target: { kind?: string; id?: string; name?: string };
  before?: unknown;
  after?: unknown;
  details?: Record<string, unknown>;
  atMs: number;
}

/** Durations in seconds, from the reports' log buckets (within 9%); null when nothing was counted. */
export interface ReportDuration {
  n: number;
  mean: number | null;
  median: number | null;
  p90: number | null;
}

export interface ReportCounts {
  opened: number;
  /** Open conversations given to an agent (under the workspace, a channel and that agent). */
  assigned: number;
  resolved: number;
  in: number;
  out: number;
}

/** Customers' ratings (1-5): how many, their mean, the share of 4 and 5 in % (null with none),
 * and how many of each score. */
export interface ReportCsat {
  ratings: number;
  average: number | null;
  percent: number | null;
  distribution: number[];
}

/** The ratings' figures of a day or a breakdown row. */
export interface ReportCsatColumns {
  csatRatings: number;
  csatAverage: number | null;
  csatPercent: number | null;
  csatDistribution: number[];
}

export interface ReportDay extends ReportCounts, ReportCsatColumns {
  day: string;
  frtMedian: number | null;
  frtP90: number | null;
  frtMean: number | null;
  resMedian: number | null;
  resP90: number | null;
}

export interface ReportRow extends ReportCounts, ReportCsatColumns {
  key: string;
  name: string;
  frtMedian: number | null;
  frtP90: number | null;
  frtMean: number | null;
  resMedian: number | null;
  resP90: number | null;
}

/** agent_api `reports` (admins): shared/reports/api.py. */
export interface ReportPage {
  fromDay: string;
  toDay: string;
  timeZone: string;
  channel: string | null;
  channels: string[];
  totals: ReportCounts & { frt: ReportDuration; res: ReportDuration; csat: ReportCsat };
  days: ReportDay[];
  /** [weekday, Monday first][hour 0-23] */
  hourOfWeek: { in: number[][]; opened: number[][] };
  breakdown: { channel: ReportRow[]; agent: ReportRow[]; team: ReportRow[]; label: ReportRow[] };
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Every action the log knows, for the filter. */
  actions: string[];
  /** `beforeMs` of the next (older) page, or null at the end. */
  next: number | null;
}

// --- the team (agent_api actions of shared/team.py: owners and admins; invitation links: anyone) ---

export type StaffRole = "owner" | "admin" | "agent" | "developer";

export interface TeamMember {
  uid: string;
  name: string;
  email: string;
  role: StaffRole;
  active: boolean;
}

export interface PendingInvitation {
  invitationId: string;
  email: string;
  name: string;
  role: StaffRole;
  invitedByName: string;
  expiresAtMs: number;
}

export interface TeamAnswer {
  members: TeamMember[];
  invitations: PendingInvitation[];
}

/** What an invitation link invites to (agent_api `invitation`, no sign-in). */
export interface InvitationAbout {
  email: string;
  name: string;
  role: StaffRole;
  workspace: string;
  invitedBy: string;
}

/** POST to agent_api without a credential: the body carries the invitation's token. */
function postPublic<T>(body: unknown): Promise<T> {
  return callFunction<T>(runtimeConfig().functions.agent_api, body, "");
}

/** An export's download: a signed URL (5 minutes) for the finished file (shared/exports.py). */
export interface ExportLink {
  url: string;
  expiresAt: string;
  fileName: string;
}

/** A contact's data as one file (shared/contact_data.py): its link and what it holds. */
export interface ContactExport extends ExportLink {
  exportId: string;
  counts: { conversations: number; messages: number; notes: number; files: number };
}

/** The Teams & routing page (shared/routing.py overview). */
export interface RoutingTeam {
  id: string;
  name: string;
  memberIds: string[];
  autoAssign: boolean;
}

export interface RoutingAgent {
  id: string;
  name: string;
  email: string | null;
  role: string | null;
  capacity: number;
  presence: "online" | "away" | "offline";
  openLoad: number;
}

export interface RoutingOverview {
  teams: RoutingTeam[];
  agents: RoutingAgent[];
  channels: { id: string; name: string; kind: string; teamId: string | null }[];
  defaultCapacity: number;
}

export const api = {
  sendMessage: (request: SendRequest) => post<SendResult>(runtimeConfig().functions.send_message, request),
  assign: (conversationId: string, assigneeId: string | null) =>
    post(runtimeConfig().functions.agent_api, { action: "assign", conversationId, assigneeId }),
  setStatus: (conversationId: string, status: ConversationStatus, snoozeUntilMs?: number) =>
    post(runtimeConfig().functions.agent_api, {
      action: "set_status",
      conversationId,
      status,
      ...(snoozeUntilMs ? { snoozeUntilMs } : {}),
    }),
  setLabels: (conversationId: string, add: string[], remove: string[]) =>
    post<{ conversationId: string; added: string[]; removed: string[] }>(runtimeConfig().functions.agent_api, {
      action: "set_labels",
      conversationId,
      add,
      remove,
    }),
  createLabel: (name: string, color: string) =>
    post<{ labelId: string; name: string; color: string }>(runtimeConfig().functions.agent_api, { action: "create_label", name, color }),
  updateLabel: (labelId: string, fields: { name?: string; color?: string }) =>
    post(runtimeConfig().functions.agent_api, { action: "update_label", labelId, ...fields }),
  deleteLabel: (labelId: string) => post(runtimeConfig().functions.agent_api, { action: "delete_label", labelId }),
  /** One operation on up to 100 conversations: per-id results, failures included. */
  bulk: (conversationIds: string[], op: BulkOperation) =>
    post<BulkResult>(runtimeConfig().functions.agent_api, { action: "bulk", conversationIds, ...op }),
  markRead: (conversationId: string) =>
    post(runtimeConfig().functions.agent_api, { action: "mark_read", conversationId }),
  /** Canned replies (issue 17): admins write the team's, every agent their own personal ones. */
  saveCanned: (draft: CannedReplyDraft) =>
    post<{ cannedReply: CannedReply }>(runtimeConfig().functions.agent_api, {
      action: "save_canned",
      ...(draft.id ? { cannedReplyId: draft.id } : {}),
      shortcut: draft.shortcut,
      title: draft.title,
      body: draft.body,
      scope: draft.scope,
    }),
  deleteCanned: (id: string) =>
    post(runtimeConfig().functions.agent_api, { action: "delete_canned", cannedReplyId: id }),
  /** The conversation's channel's templates (cached server-side; `refresh` asks the provider). */
  listTemplates: (conversationId: string, refresh = false) =>
    post<TemplateList>(runtimeConfig().functions.agent_api, { action: "list_templates", conversationId, refresh }),
  /** The agent is typing: the server sends the provider's typing signal, at most every 5 s. */
  typing: (conversationId: string) => post(runtimeConfig().functions.agent_api, { action: "typing", conversationId }),
  /** A signed URL (5 minutes) for one file of a message: `content.media[index]`. */
  mediaUrl: (conversationId: string, messageId: string, index: number, variant: "original" | "thumbnail") =>
    post<SignedMedia>(runtimeConfig().functions.agent_api, { action: "mediaUrl", conversationId, messageId, index, variant }),
  /** Messages and contacts matching words (shared/search/engine.py), newest first. */
  search: (request: SearchRequest) => post<SearchAnswer>(runtimeConfig().functions.agent_api, { action: "search", ...request }),
  /** A page of all of the tenant's messages by time, across conversations. */
  timeline: (request: TimelineRequest) =>
    post<TimelineAnswer>(runtimeConfig().functions.agent_api, { action: "timeline", ...request }),
  /** A page of the workspace's audit log, newest first (admins only). */
  auditLog: (request: { filterAction?: string; actorId?: string; beforeMs?: number; pageSize?: number }) =>
    post<AuditPage>(runtimeConfig().functions.agent_api, { action: "audit_log", ...request }),
  /** Channels page (admins): does the provider accept this token for this account? Stores nothing. */
  testChannel: (account: ChannelAccountForm) =>
    post<{ ok: true; account: { name: string } }>(runtimeConfig().functions.agent_api, { action: "test_channel", ...account }),
  /** Test, store the token (Secret Manager), route and subscribe a channel. */
  connectChannel: (account: ChannelAccountForm & { name: string; channelId?: string }) =>
    post<ConnectedChannel>(runtimeConfig().functions.agent_api, { action: "connect_channel", ...account }),
  /** A new token (tested first) for a connected channel. */
  rotateChannel: (channelId: string, token: string) =>
    post<{ channelId: string; siblings: string[] }>(runtimeConfig().functions.agent_api, { action: "rotate_channel", channelId, token }),
  /** Connect a channel again with its stored token (route and provider subscription). */
  reconnectChannel: (channelId: string) =>
    post<{ channelId: string; subscribed: boolean }>(runtimeConfig().functions.agent_api, { action: "reconnect_channel", channelId }),
  /** Stop routing a channel's webhooks and delete its token. */
  disconnectChannel: (channelId: string) =>
    post<{ channelId: string; providerNote: string | null }>(runtimeConfig().functions.agent_api, { action: "disconnect_channel", channelId }),
  /** Contacts across channels (shared/contacts.py): `contactId`'s person joins `intoContactId`'s. */
  mergeContacts: (contactId: string, intoContactId: string) =>
    post<{ personId: string; identities: string[] }>(runtimeConfig().functions.agent_api, { action: "contact_merge", contactId, intoContactId }),
  /** Take one identity out of its person again. */
  splitContact: (contactId: string) =>
    post<{ contactId: string; personId: string | null; identities: string[] }>(runtimeConfig().functions.agent_api, { action: "contact_split", contactId }),
  addContactNote: (contactId: string, text: string) =>
    post<{ contactId: string; noteId: string }>(runtimeConfig().functions.agent_api, { action: "contact_note_add", contactId, text }),
  deleteContactNote: (contactId: string, noteId: string) =>
    post(runtimeConfig().functions.agent_api, { action: "contact_note_delete", contactId, noteId }),
  /** Fill (null: clear) custom attributes of the customer (written on the person's root identity). */
  setContactAttributes: (contactId: string, values: Record<string, string | number | boolean | null>) =>
    post(runtimeConfig().functions.agent_api, { action: "contact_attributes_set", contactId, values }),
  /** Admins: define a custom attribute (key, label, type: text, number, boolean, date) or delete one. */
  defineContactAttribute: (key: string, label: string, type: "text" | "number" | "boolean" | "date") =>
    post(runtimeConfig().functions.agent_api, { action: "contact_attribute_define", key, label, type }),
  deleteContactAttribute: (key: string) => post(runtimeConfig().functions.agent_api, { action: "contact_attribute_delete", key }),
  /** The team page: members (deactivated ones too) and pending invitations. */
  team: () => post<TeamAnswer>(runtimeConfig().functions.agent_api, { action: "team" }),
  inviteAgent: (email: string, name: string, role: StaffRole) =>
    post<PendingInvitation>(runtimeConfig().functions.agent_api, { action: "invite_agent", email, name, role }),
  setRole: (uid: string, role: StaffRole) =>
    post<{ uid: string; role: StaffRole; changed: boolean }>(runtimeConfig().functions.agent_api, { action: "set_role", uid, role }),
  deactivateAgent: (uid: string) =>
    post<{ uid: string; active: false; unassigned: number }>(runtimeConfig().functions.agent_api, { action: "deactivate_agent", uid }),
  reactivateAgent: (uid: string) => post(runtimeConfig().functions.agent_api, { action: "reactivate_agent", uid }),
  revokeInvitation: (invitationId: string) =>
    post(runtimeConfig().functions.agent_api, { action: "revoke_invitation", invitationId }),
  /** An invitation link's details and its acceptance: no sign-in, the token is the credential. */
  invitation: (token: string) => postPublic<InvitationAbout>({ action: "invitation", token }),
  acceptInvitation: (token: string, password: string, name: string) =>
    postPublic<{ email: string; uid: string; role: StaffRole }>({ action: "accept_invitation", token, password, name }),
  /** Start exporting a date range (or a search's matches) of the tenant's messages (admins). */
  exportStart: (request: { fromMs: number; toMs: number; format: "jsonl" | "csv"; query?: string }) =>
    post<{ exportId: string; expiresAtMs: number }>(runtimeConfig().functions.agent_api, { action: "export_start", ...request }),
  /** A signed link to a finished export (admins; refused once the export is a day old). */
  exportLink: (exportId: string) =>
    post<ExportLink>(runtimeConfig().functions.agent_api, { action: "export_link", exportId }),
  /** Everything about one contact as a file (admins). */
  contactExport: (contactId: string) =>
    post<ContactExport>(runtimeConfig().functions.agent_api, { action: "contact_export", contactId }),
  /** Erase a contact's data for good (admins). */
  contactErase: (contactId: string) =>
    post<{ erased: boolean; conversations: number; documents: number; mediaObjects: number }>(
      runtimeConfig().functions.agent_api,
      { action: "contact_erase", contactId },
    ),
  /** The signed-in agent's notification settings (shared/notifications.py). */
  notificationSettings: () =>
    post<NotificationSettings>(runtimeConfig().functions.agent_api, { action: "notification_settings" }),
  saveNotificationSettings: (settings: NotificationPreferences) =>
    post<NotificationPreferences>(runtimeConfig().functions.agent_api, { action: "save_notification_settings", ...settings }),
  /** This browser's web-push token, so background notifications reach it (FCM). */
  registerPushToken: (token: string) =>
    post<{ registered: boolean; browsers?: number }>(runtimeConfig().functions.agent_api, { action: "register_push_token", token }),
  unregisterPushToken: (token: string) =>
    post<{ registered: boolean }>(runtimeConfig().functions.agent_api, { action: "unregister_push_token", token }),
  /** Mark the named notifications read, or every unread one (no ids). */
  markNotificationsRead: (notificationIds?: string[]) =>
    post<{ marked: number }>(runtimeConfig().functions.agent_api, {
      action: "mark_notifications_read",
      ...(notificationIds ? { notificationIds } : {}),
    }),
  /** The agent's presence heartbeat (every 30 s while the dashboard is open). */
  presence: (state: "online" | "away" | "offline") =>
    post<{ state: string; lastSeenMs: number }>(runtimeConfig().functions.agent_api, { action: "presence", state }),
  /** Teams & routing (admins only; each change is in the audit log). */
  routingOverview: () => post<RoutingOverview>(runtimeConfig().functions.agent_api, { action: "routing_overview" }),
  saveTeam: (team: { teamId?: string; name: string; memberIds: string[]; autoAssign: boolean }) =>
    post<RoutingTeam>(runtimeConfig().functions.agent_api, { action: "save_team", ...team }),
  deleteTeam: (teamId: string) => post(runtimeConfig().functions.agent_api, { action: "delete_team", teamId }),
  routeChannel: (channelId: string, teamId: string | null) =>
    post(runtimeConfig().functions.agent_api, { action: "route_channel", channelId, teamId }),
  setCapacity: (agentId: string, capacity: number) =>
    post(runtimeConfig().functions.agent_api, { action: "set_capacity", agentId, capacity }),
  reports: (request: { fromDay: string; toDay: string; channel?: string }) =>
    post<ReportPage>(runtimeConfig().functions.agent_api, { action: "reports", ...request }),
  /** The operations page (admins): quarantine, dead letters, alerts (shared/operations/console.py). */
  operations: () => post<OperationsOverview>(runtimeConfig().functions.agent_api, { action: "operations" }),
  quarantineReveal: (id: string) =>
    post<{ id: string; raw: unknown }>(runtimeConfig().functions.agent_api, { action: "quarantine_reveal", id }),
  quarantineReplay: (id: string) => post<ReplayRow>(runtimeConfig().functions.agent_api, { action: "quarantine_replay", id }),
  quarantineReplayAll: () =>
    post<{ results: ReplayRow[]; replayed: number }>(runtimeConfig().functions.agent_api, { action: "quarantine_replay_all" }),
  quarantineDiscard: (id: string, reason: string) =>
    post<{ id: string; discarded: boolean }>(runtimeConfig().functions.agent_api, { action: "quarantine_discard", id, reason }),
  deadLetterReveal: (eventId: string) =>
    post<{ eventId: string; raw: unknown }>(runtimeConfig().functions.agent_api, { action: "deadletter_reveal", eventId }),
  deadLetterReplay: (eventId: string) =>
    post<{ eventId: string; replayed: number }>(runtimeConfig().functions.agent_api, { action: "deadletter_replay", eventId }),
  deadLetterDiscard: (eventId: string, reason: string) =>
    post<{ eventId: string; discarded: number }>(runtimeConfig().functions.agent_api, { action: "deadletter_discard", eventId, reason }),
  /** Workspace settings (admins): read them, or save them whole (shared/workspace.py). */
  workspaceSettings: () =>
    post<{ settings: Partial<WorkspaceSettings> }>(runtimeConfig().functions.agent_api, { action: "workspace_settings" }),
  saveWorkspaceSettings: (settings: WorkspaceSettings) =>
    post<{ settings: WorkspaceSettings }>(runtimeConfig().functions.agent_api, { action: "workspace_settings", settings }),
  /** A signed resumable upload (15 minutes) for a file to attach in this conversation. */
  uploadUrl: (conversationId: string, fileName: string, contentType: string, size: number) =>
    post<SignedUpload>(runtimeConfig().functions.agent_api, { action: "uploadUrl", conversationId, fileName, contentType, size }),
};
