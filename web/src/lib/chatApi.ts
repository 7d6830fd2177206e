/** The chat API as an app's backend calls it: with the app's API key (and `X-User-Id` for the user
 * it acts for). Only the developer pages use it, for the demo chat, with the key the developer just
 * received; a real app keeps its key on its server (see the embed snippet). */
import { callFunction } from "./api";
import { runtimeConfig } from "./firebase";

export interface TokenAnswer {
  customToken: string;
  userId: string;
  tenantId: string;
}

function operation(name: string): string {
  return `${runtimeConfig().functions.chat_api.replace(/\/+$/, "")}/v1/${name}`;
}

export const chatBackend = {
  /** A Firebase custom token for one of the app's users (their profile upserted). */
  token: (apiKey: string, userId: string, name: string) =>
    callFunction<TokenAnswer>(operation("token"), { userId, name }, `Bearer ${apiKey}`),
  /** Join the group channel `channelId` as `userId`, creating it (named `name`) if it is new. */
  joinGroup: (apiKey: string, userId: string, channelId: string, name: string) =>
    callFunction<{ id: string }>(operation("createSub"), { channelId, name }, `Bearer ${apiKey}`, {
      "X-User-Id": userId,
    }),
  /** Post as `userId` (idempotent on clientPostId). */
  post: (apiKey: string, userId: string, channelId: string, text: string, clientPostId: string) =>
    callFunction<{ id: string }>(operation("createPost"), { channelId, text, clientPostId }, `Bearer ${apiKey}`, {
      "X-User-Id": userId,
    }),
};
