/** The HTTPS functions the dashboard calls (browsers never write Firestore): `send_message` and
 * `agent_api`, with the signed-in agent's ID token. Errors arrive as
 * `{"error": {"code", "message", "details"?}}` and are thrown as ApiError. */
import type { ConversationStatus, OutgoingMessage } from "./types";
import { auth, runtimeConfig } from "./firebase";

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

/** A refusal that resending the same request cannot change (validation, window closed, not found):
 * the composer gives the draft back instead of offering Retry. */
export function isRefusal(exc: unknown): exc is ApiError {
  return exc instanceof ApiError && exc.httpStatus >= 400 && exc.httpStatus < 500 && ![401, 408, 429].includes(exc.httpStatus);
}

/** POST JSON to one of Switchboard's HTTPS functions with the given credential (`Bearer ...`): the
 * answer, or an ApiError carrying the server's machine-readable code. */
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
      headers: { ...headers, Authorization: authorization, "Content-Type": "application/json" },
      body: JSON.stringify(body),
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
  markRead: (conversationId: string) =>
    post(runtimeConfig().functions.agent_api, { action: "mark_read", conversationId }),
};
