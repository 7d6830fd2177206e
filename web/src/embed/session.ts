/** One mounted widget's connection: its own named Firebase app (so two widgets for two users can
 * share a page, and none touches the host page's own Firebase apps), signed in with the custom
 * token, kept in memory only; Firestore for reading; the chat API for every change. */
import { deleteApp, initializeApp, type FirebaseApp } from "firebase/app";
import {
  connectAuthEmulator,
  inMemoryPersistence,
  initializeAuth,
  signInWithCustomToken,
  signOut,
  type Auth,
  type User,
} from "firebase/auth";
import { connectFirestoreEmulator, initializeFirestore, type Firestore, type Unsubscribe } from "firebase/firestore";

import { ApiError, callFunction, isUnauthenticated } from "../lib/api";
import type { ResolvedConfig } from "./config";

/** What every call answers once the custom token's session is no longer valid (see isRefusal). */
function sessionEnded(): ApiError {
  return new ApiError("session_ended", "Your chat session has ended: reload the page to sign in again.", 401);
}

export function describe(exc: unknown): string {
  return exc instanceof Error ? exc.message : String(exc);
}

let mounts = 0;
/** sendOnExit uses the last ID token only if it was minted this recently (they live an hour). */
const BEARER_FRESH_MS = 50 * 60_000;

function emulatorUrl(host: string): string {
  return /^https?:\/\//.test(host) ? host : `http://${host}`;
}

function splitHost(hostPort: string): [string, number] {
  const bare = hostPort.replace(/^https?:\/\//, "");
  const index = bare.lastIndexOf(":");
  return [bare.slice(0, index), Number(bare.slice(index + 1))];
}

/** Firebase Auth's refusal of a custom token, in words a developer can act on. */
function signInError(exc: unknown): Error {
  const code = (exc as { code?: string } | null)?.code ?? "";
  if (code === "auth/invalid-custom-token" || code === "auth/argument-error") {
    return new Error("the token is not a valid Firebase custom token (get one from POST /v1/token)");
  }
  if (code === "auth/custom-token-mismatch") {
    return new Error("the token was made for another Firebase project");
  }
  if (code === "auth/network-request-failed") {
    return new Error("could not reach Firebase Auth to sign in");
  }
  return new Error(`sign-in failed: ${code || describe(exc)}`);
}

export class ChatSession {
  private readonly listeners = new Set<Unsubscribe>();
  private closed = false;
  /** The custom token's session is no longer valid (a 401 a fresh ID token did not cure). */
  private ended = false;
  /** The last `Bearer <ID token>` minted (for sendOnExit). */
  private bearer: string | null = null;
  private bearerAtMs = 0;

  private constructor(
    readonly app: FirebaseApp,
    readonly auth: Auth,
    readonly db: Firestore,
    readonly config: ResolvedConfig,
    readonly user: User,
    /** The app (tenant) the user belongs to: the token's tenantId claim. */
    readonly appId: string,
    /** The app's id for the user (members/{userId}, posts' sender): the token's userId
     * claim. Not the Firebase uid, which is the app's own account for them, `<appId>:<userId>`. */
    readonly userId: string,
  ) {}

  /** Sign in with the custom token and check it belongs to `config.appId` (when given). */
  static async open(token: string, config: ResolvedConfig): Promise<ChatSession> {
    if (typeof token !== "string" || !token.trim()) throw new Error("options.token is required");
    mounts += 1;
    const name = `switchboard-chat-${mounts}-${Math.random().toString(36).slice(2, 8)}`;
    const app = initializeApp(
      { apiKey: config.apiKey, projectId: config.projectId, authDomain: `${config.projectId}.firebaseapp.com` },
      name,
    );
    try {
      // initializeAuth, not getAuth: no popup/redirect resolver (and none of its iframe code) is
      // bundled, and the session lives in memory only: nothing is written to the host page's storage.
      const auth = initializeAuth(app, { persistence: inMemoryPersistence });
      if (config.authHost) connectAuthEmulator(auth, emulatorUrl(config.authHost), { disableWarnings: true });
      const db = initializeFirestore(app, {});
      if (config.firestoreHost) connectFirestoreEmulator(db, ...splitHost(config.firestoreHost));
      let user: User;
      try {
        user = (await signInWithCustomToken(auth, token.trim())).user;
      } catch (exc) {
        throw signInError(exc);
      }
      const result = await user.getIdTokenResult();
      const claims = result.claims;
      const tenantId = typeof claims.tenantId === "string" ? claims.tenantId : "";
      const userId = typeof claims.userId === "string" ? claims.userId : "";
      if (config.appId && tenantId !== config.appId) {
        throw new Error(
          `the token is for ${tenantId ? `app "${tenantId}"` : "no app"}, not for app "${config.appId}": ` +
            "mint it with this app's API key",
        );
      }
      if (!tenantId || claims.role !== "user" || !userId || result.signInProvider !== "custom") {
        throw new Error("the token is not an app user's token (mint it with POST /v1/token)");
      }
      return new ChatSession(app, auth, db, config, user, tenantId, userId);
    } catch (exc) {
      await deleteApp(app).catch(() => undefined);
      throw exc;
    }
  }

  /** Keep a Firestore listener so close() stops it even if its component did not. */
  track(unsubscribe: Unsubscribe): Unsubscribe {
    if (this.closed) {
      unsubscribe();
      return () => undefined;
    }
    this.listeners.add(unsubscribe);
    return () => {
      if (this.listeners.delete(unsubscribe)) unsubscribe();
    };
  }

  /** POST {apiUrl}/v1/{operation} as the signed-in user (their Firebase ID token), through
   * lib/api.ts's callFunction. A 401 is retried once with a freshly minted ID token (one the
   * server found expired, a clock off); a second 401, or Firebase refusing to mint one (the user
   * was deleted or disabled), ends the session: this call and every later one fail with
   * `session_ended` (401), since the widget cannot get a new custom token by itself. */
  async call<T>(operation: string, body: object = {}): Promise<T> {
    if (this.closed) throw new ApiError("closed", "the chat was closed", 0);
    if (this.ended) throw sessionEnded();
    const url = `${this.config.apiUrl}/v1/${operation}`;
    try {
      return await callFunction<T>(url, body, await this.credential(false));
    } catch (exc) {
      if (!isUnauthenticated(exc) || this.ended) throw exc;
    }
    try {
      return await callFunction<T>(url, body, await this.credential(true));
    } catch (exc) {
      if (!isUnauthenticated(exc)) throw exc;
      this.ended = true;
      throw sessionEnded();
    }
  }

  /** POST {apiUrl}/v1/{operation} now, without waiting for anything: for what the widget says as it
   * goes away (setRead when a channel closes, the page is hidden or left). `keepalive`, so the
   * request outlives the page, and the ID token already in hand (minting one is asynchronous and
   * may not finish on a page being unloaded); without one, an ordinary call. No answer, no retry:
   * failures are dropped (the next setRead corrects the read state). */
  sendOnExit(operation: string, body: object): void {
    if (this.closed || this.ended) return;
    // ID tokens live an hour: an older one would only earn a 401.
    if (!this.bearer || Date.now() - this.bearerAtMs > BEARER_FRESH_MS) {
      void this.call(operation, body).catch(() => undefined);
      return;
    }
    try {
      void fetch(`${this.config.apiUrl}/v1/${operation}`, {
        method: "POST",
        headers: { Authorization: this.bearer, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
        keepalive: true,
      }).catch(() => undefined);
    } catch {
      // fetch refused the request outright (a browser without keepalive for it): nothing to do.
    }
  }

  /** `Bearer <ID token>`; a token Firebase will not mint (other than for being offline) ends the session. */
  private async credential(forceRefresh: boolean): Promise<string> {
    try {
      const bearer = `Bearer ${await this.user.getIdToken(forceRefresh)}`;
      this.bearer = bearer;
      this.bearerAtMs = Date.now();
      return bearer;
    } catch (exc) {
      if ((exc as { code?: string } | null)?.code === "auth/network-request-failed") {
        throw new ApiError("network", "Could not reach the server. Check your connection and retry.", 0);
      }
      this.ended = true;
      throw sessionEnded();
    }
  }

  /** Stop every listener, sign out and delete the Firebase app (which ends its connections). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bearer = null;
    for (const unsubscribe of this.listeners) unsubscribe();
    this.listeners.clear();
    await signOut(this.auth).catch(() => undefined);
    await deleteApp(this.app).catch(() => undefined);
  }
}
