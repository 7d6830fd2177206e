/** The developer side (`/developers`): a Firebase account of its own (signed up here, no claims yet),
 * the app it creates through `create_app`, and the API key, which the server shows once: it lives in
 * this store's memory only (never in storage), so the demo page can use it until the tab closes.
 *
 * create_app wants a verified e-mail address (the `email_verified` claim): after sign-up the store
 * sends the verification e-mail, and while the page says "check your inbox" it reloads the account
 * (on focus, on a click, every few seconds) until the address is verified, then refreshes the ID
 * token so the claim is in it. */
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import {
  createUserWithEmailAndPassword,
  onAuthStateChanged,
  reload,
  sendEmailVerification,
  signInWithEmailAndPassword,
  signOut as firebaseSignOut,
  updateProfile,
  type User,
} from "firebase/auth";
import { doc, getDoc } from "firebase/firestore";

import { ApiError, callFunction, idTokenCredential } from "../lib/api";
import { auth, db, runtimeConfig } from "../lib/firebase";

type Phase = "starting" | "signedOut" | "signedIn";

/** How often the "check your inbox" step looks whether the address was verified meanwhile. */
const VERIFY_POLL_MS = 4000;

/** What create_app answers (shared/chat/models.py CreateAppAnswer). */
export interface CreatedApp {
  appId: string;
  apiKey: string;
  embedSnippet: string;
}

/** The tenant an account already holds (custom claims), if any. */
export interface Membership {
  tenantId: string;
  role: string;
  kind: string | null;
  name: string | null;
  apiKeyPrefix: string | null;
}

/** `sb_<appId>_<secret>` (shared/chat/keys.py): the app a key belongs to, or null. */
export function appOfKey(key: string): string | null {
  const match = /^sb_([A-Za-z0-9-]{1,64})_[A-Za-z0-9_-]{43}$/.exec(key.trim());
  return match ? match[1] : null;
}

function authMessage(exc: unknown): string {
  const code = (exc as { code?: string }).code ?? "";
  switch (code) {
    case "auth/email-already-in-use":
      return "An account with this email exists: sign in instead.";
    case "auth/weak-password":
      return "Choose a password of at least 6 characters.";
    case "auth/invalid-email":
      return "That email address is not valid.";
    case "auth/invalid-credential":
    case "auth/wrong-password":
    case "auth/user-not-found":
      return "Wrong email or password.";
    case "auth/too-many-requests":
      return "Too many attempts. Wait a moment and try again.";
    case "auth/network-request-failed":
      return "Could not reach the sign-in service.";
    default:
      return "That did not work. Try again.";
  }
}

/** Locally, the Auth emulator sends no e-mail: it lists the links it would have sent. The latest
 * verification link for `email`, or null (production: always null). */
async function emulatorVerificationLink(email: string): Promise<string | null> {
  const { authHost, projectId } = runtimeConfig();
  if (!authHost || !email) return null;
  try {
    const response = await fetch(`http://${authHost}/emulator/v1/projects/${projectId}/oobCodes`);
    const listed = (await response.json()) as { oobCodes?: { email?: string; requestType?: string; oobLink?: string }[] };
    const links = (listed.oobCodes ?? []).filter(
      (code) => code.requestType === "VERIFY_EMAIL" && code.email?.toLowerCase() === email.toLowerCase(),
    );
    return links.at(-1)?.oobLink ?? null;
  } catch {
    return null;
  }
}

export const useDeveloper = defineStore("developer", () => {
  const phase = ref<Phase>("starting");
  const user = ref<User | null>(null);
  const membership = ref<Membership | null>(null);
  const created = ref<CreatedApp | null>(null);
  const error = ref<string | null>(null);
  const busy = ref(false);
  /** The signed-in account's address is verified (create_app refuses it otherwise). */
  const verified = ref(false);
  /** The verification e-mail went out from this page (sign-up, or "send it again"). */
  const verificationSent = ref(false);
  /** Local stack only: the verification link the Auth emulator kept instead of sending it. */
  const localVerificationLink = ref<string | null>(null);

  const email = computed(() => user.value?.email ?? "");

  let started = false;
  let poll: ReturnType<typeof setInterval> | null = null;

  function start(): void {
    if (started) return;
    started = true;
    onAuthStateChanged(auth(), async (next) => {
      user.value = next;
      verified.value = next?.emailVerified ?? false;
      membership.value = next ? await membershipOf(next, false) : null;
      phase.value = next ? "signedIn" : "signedOut";
      watchVerification();
    });
    window.addEventListener("focus", () => void checkVerified());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") void checkVerified();
    });
  }

  /** Poll while a signed-in account without a tenant waits for its address to be verified. */
  function watchVerification(): void {
    const waiting = phase.value === "signedIn" && !verified.value && !membership.value;
    if (waiting && poll === null) {
      poll = setInterval(() => void checkVerified(), VERIFY_POLL_MS);
      void refreshLocalLink();
    } else if (!waiting && poll !== null) {
      clearInterval(poll);
      poll = null;
    }
  }

  async function refreshLocalLink(): Promise<void> {
    localVerificationLink.value = await emulatorVerificationLink(auth().currentUser?.email ?? "");
  }

  /** Reload the account; once the address is verified, a fresh ID token (it carries the claim). */
  async function checkVerified(): Promise<boolean> {
    const account = auth().currentUser;
    if (!account || verified.value) return verified.value;
    try {
      await reload(account);
      if (account.emailVerified) {
        await account.getIdToken(true);
        verified.value = true;
        error.value = null;
      }
    } catch {
      // Offline for a moment: the next focus, click or tick tries again.
    }
    watchVerification();
    return verified.value;
  }

  /** The "I have verified it" button: check now, and say so if it is not verified yet. */
  async function confirmVerified(): Promise<void> {
    await guarded(async () => {
      if (!(await checkVerified())) {
        error.value = "That address is not verified yet: open the link in the e-mail we sent, then try again.";
      }
    });
  }

  async function sendVerification(): Promise<void> {
    const account = auth().currentUser;
    if (!account) return;
    // The link's "continue" button leads back here.
    const continueUrl = { url: `${window.location.origin}/developers` };
    await sendEmailVerification(account, continueUrl).catch(() => sendEmailVerification(account));
    verificationSent.value = true;
    await refreshLocalLink();
  }

  async function resendVerification(): Promise<void> {
    await guarded(async () => {
      try {
        await sendVerification();
      } catch (exc) {
        error.value = authMessage(exc);
      }
    });
  }

  async function membershipOf(account: User, refresh: boolean): Promise<Membership | null> {
    let token = await account.getIdTokenResult(refresh);
    if (typeof token.claims.tenantId !== "string" && !refresh) {
      // Claims set since this token was minted (an app created in another tab, or just before a
      // reload) only show in a fresh token: ask once rather than offer to create a second app.
      token = await account.getIdTokenResult(true);
    }
    const tenantId = token.claims.tenantId;
    if (typeof tenantId !== "string") return null;
    const role = String(token.claims.role ?? "");
    // Staff and developers (an app's owner included) may read their tenant's document; an app user may not.
    const tenant = ["owner", "admin", "agent", "developer"].includes(role)
      ? await getDoc(doc(db(), "tenants", tenantId)).catch(() => null)
      : null;
    const data = tenant?.data() ?? {};
    return {
      tenantId,
      role,
      kind: typeof data.kind === "string" ? data.kind : null,
      name: typeof data.name === "string" ? data.name : null,
      apiKeyPrefix: typeof data.apiKeyPrefix === "string" ? data.apiKeyPrefix : null,
    };
  }

  async function guarded(work: () => Promise<void>): Promise<void> {
    if (busy.value) return;
    busy.value = true;
    error.value = null;
    try {
      await work();
    } finally {
      busy.value = false;
    }
  }

  async function signUp(name: string, address: string, password: string): Promise<void> {
    await guarded(async () => {
      try {
        const credential = await createUserWithEmailAndPassword(auth(), address.trim(), password);
        if (name.trim()) await updateProfile(credential.user, { displayName: name.trim() });
        await sendVerification();
      } catch (exc) {
        error.value = authMessage(exc);
      }
    });
  }

  async function signIn(address: string, password: string): Promise<void> {
    await guarded(async () => {
      try {
        await signInWithEmailAndPassword(auth(), address.trim(), password);
      } catch (exc) {
        error.value = authMessage(exc);
      }
    });
  }

  async function signOut(): Promise<void> {
    created.value = null;
    verificationSent.value = false;
    localVerificationLink.value = null;
    await firebaseSignOut(auth());
  }

  /** create_app, then a fresh ID token: the account now administers the app (its inbox included). */
  async function createApp(name: string): Promise<void> {
    await guarded(async () => {
      try {
        // A token minted before the address was verified lacks the claim: refresh it then.
        const current = await auth().currentUser?.getIdTokenResult();
        const answer = await callFunction<CreatedApp>(
          runtimeConfig().functions.create_app,
          { name: name.trim() },
          await idTokenCredential(current?.claims.email_verified !== true),
        );
        // The new claims first: a fresh token (persisted with the session) before the page moves on.
        if (user.value) membership.value = await membershipOf(user.value, true);
        created.value = answer;
      } catch (exc) {
        if (exc instanceof ApiError && exc.code === "email_not_verified") {
          verified.value = false; // back to "check your inbox"
          watchVerification();
        }
        error.value = exc instanceof ApiError ? exc.message : "Could not create the app. Try again.";
      }
    });
  }

  /** The API key for `appId` while this tab remembers it (the one shown at creation). */
  function keyFor(appId: string): string | null {
    return created.value?.appId === appId ? created.value.apiKey : null;
  }

  return {
    phase,
    user,
    email,
    membership,
    created,
    error,
    busy,
    verified,
    verificationSent,
    localVerificationLink,
    start,
    confirmVerified,
    resendVerification,
    signUp,
    signIn,
    signOut,
    createApp,
    keyFor,
  };
});
