/** A signed-in ChatSession for the embed's unit tests, on the fake Firebase of ./fakeFirebase (the
 * test file must have mocked firebase/app, firebase/auth and firebase/firestore with it). */
import type { ResolvedConfig } from "../embed/config";
import { ChatSession } from "../embed/session";
import { authModule, fakeUser, type FakeUser } from "./fakeFirebase";

export const CHAT_CONFIG: ResolvedConfig = {
  appId: "app1",
  projectId: "demo",
  apiKey: "web-key",
  apiUrl: "http://chat.test",
};

/** The custom token's claims for `userId` of `appId`, as POST /v1/token mints them. */
export function appUser(userId = "u1", appId = "app1", fields: Parameters<typeof fakeUser>[0] = {}): FakeUser {
  return fakeUser({
    uid: `${appId}:${userId}`,
    email: null,
    signInProvider: "custom",
    claims: { tenantId: appId, role: "user", userId },
    ...fields,
  });
}

/** Sign in as `user` (an app user by default) and open the session. */
export async function openChatSession(
  user: FakeUser = appUser(),
  config: ResolvedConfig = CHAT_CONFIG,
): Promise<{ session: ChatSession; user: FakeUser }> {
  authModule.signInWithCustomToken.mockResolvedValueOnce({ user });
  const session = await ChatSession.open("custom-token", config);
  return { session, user };
}
