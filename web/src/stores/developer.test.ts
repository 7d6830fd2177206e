import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import {
  authModule,
  documents,
  emitAuth,
  fakeAuth,
  fakeServer,
  fakeUser,
  firebaseError,
  resetFirebase,
  settle,
  type Call,
  type FakeUser,
} from "../testing/fakeFirebase";
import { appOfKey, useDeveloper } from "./developer";

const CREATE_APP = "http://functions.test/create_app";
const AUTH_HOST = "127.0.0.1:9099";
const OOB_CODES = `http://${AUTH_HOST}/emulator/v1/projects/demo/oobCodes`;
initFirebase({
  projectId: "demo",
  apiKey: "k",
  authHost: AUTH_HOST,
  functions: { send_message: "s", agent_api: "a", create_app: CREATE_APP, chat_api: "x" },
});

const KEY = `sb_app1_${"A".repeat(43)}`;
const CREATED = { appId: "app1", apiKey: KEY, embedSnippet: "<script …>" };

let developer: ReturnType<typeof useDeveloper>;
let server: ReturnType<typeof fakeServer>;
let createAnswer: (call: Call) => { status: number; body?: unknown } | Error | Promise<{ status: number; body?: unknown }>;
let oobCodes: { email?: string; requestType?: string; oobLink?: string }[];

beforeEach(() => {
  vi.useFakeTimers();
  resetFirebase();
  oobCodes = [];
  createAnswer = () => ({ status: 200, body: CREATED });
  server = fakeServer((call) => {
    if (call.url === CREATE_APP) return createAnswer(call);
    if (call.url === OOB_CODES) return { status: 200, body: { oobCodes } };
    return { status: 404 };
  });
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
  developer = useDeveloper();
});

afterEach(() => {
  vi.useRealTimers();
});

/** Sign-up as Firebase does it: the new account becomes the current user, then Auth reports it. */
function signUpCreates(user: FakeUser): void {
  authModule.createUserWithEmailAndPassword.mockImplementationOnce(async () => {
    fakeAuth.currentUser = user;
    return { user };
  });
}

describe("onboarding, start to end", () => {
  it("signed out -> sign up -> check your inbox -> verified -> create app -> key shown once", async () => {
    developer.start();
    await emitAuth(null);
    expect(developer.phase).toBe("signedOut");

    // Sign up: the account, its name, and the verification e-mail (with a way back here).
    const user = fakeUser({ uid: "dev-1", email: "ana@dev.test" });
    signUpCreates(user);
    oobCodes = [{ email: "ANA@dev.test", requestType: "VERIFY_EMAIL", oobLink: "http://auth/verify?oob=1" }];
    await developer.signUp(" Ana ", " ana@dev.test ", "secret1");
    expect(authModule.createUserWithEmailAndPassword).toHaveBeenCalledWith(fakeAuth, "ana@dev.test", "secret1");
    expect(authModule.updateProfile).toHaveBeenCalledWith(user, { displayName: "Ana" });
    expect(authModule.sendEmailVerification).toHaveBeenCalledWith(user, { url: `${window.location.origin}/developers` });
    expect(developer.verificationSent).toBe(true);
    expect(developer.localVerificationLink).toBe("http://auth/verify?oob=1");

    // Signed in, not verified, no app: "check your inbox".
    await emitAuth(user);
    expect(developer.phase).toBe("signedIn");
    expect(developer.email).toBe("ana@dev.test");
    expect(developer.verified).toBe(false);
    expect(developer.membership).toBeNull();

    // The page looks every few seconds; nothing yet.
    await vi.advanceTimersByTimeAsync(4000);
    expect(authModule.reload).toHaveBeenCalledTimes(1);
    expect(developer.verified).toBe(false);

    // The link was opened: the next look finds it, and a fresh token carries the claim.
    user.emailVerified = true;
    await vi.advanceTimersByTimeAsync(4000);
    expect(developer.verified).toBe(true);
    expect(user.getIdToken).toHaveBeenCalledWith(true);
    // ...and stops looking.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(authModule.reload).toHaveBeenCalledTimes(2);

    // Create the app: the server makes the account its owner (claims in the next fresh token).
    user.nextClaims = { tenantId: "app1", role: "owner", email_verified: true };
    documents.set("tenants/app1", { kind: "app", name: "My app", apiKeyPrefix: "sb_app1_AAAA" });
    await developer.createApp("  My app ");
    const [call] = server.callsTo("/create_app");
    expect(call.body).toEqual({ name: "My app" });
    expect(call.headers.Authorization).toBe("Bearer fresh-id-token");
    expect(developer.membership).toEqual({
      tenantId: "app1",
      role: "owner",
      kind: "app",
      name: "My app",
      apiKeyPrefix: "sb_app1_AAAA",
    });
    expect(developer.created).toEqual(CREATED);
    expect(developer.keyFor("app1")).toBe(KEY);
    expect(developer.error).toBeNull();

    // The key lives in this tab's memory only, and goes with the sign-out.
    expect(localStorage.length + sessionStorage.length).toBe(0);
    await developer.signOut();
    expect(authModule.signOut).toHaveBeenCalled();
    expect(developer.created).toBeNull();
    expect(developer.keyFor("app1")).toBeNull();
    expect(developer.verificationSent).toBe(false);
    expect(developer.localVerificationLink).toBeNull();
  });
});

describe("signed in", () => {
  it("an account that already has an app shows it and never polls", async () => {
    documents.set("tenants/app7", { kind: "app", name: "Seven" });
    developer.start();

    await emitAuth(fakeUser({ emailVerified: true, claims: { tenantId: "app7", role: "admin" } }));
    await vi.advanceTimersByTimeAsync(20_000);

    expect(developer.membership).toMatchObject({ tenantId: "app7", name: "Seven", kind: "app", apiKeyPrefix: null });
    expect(authModule.reload).not.toHaveBeenCalled();
  });

  it("claims set since the token was minted (an app made in another tab) are found with one fresh token", async () => {
    const user = fakeUser({ emailVerified: true, claims: {}, nextClaims: { tenantId: "app2", role: "owner" } });
    developer.start();

    await emitAuth(user);

    expect(developer.membership?.tenantId).toBe("app2");
    expect(user.getIdTokenResult.mock.calls).toEqual([[false], [true]]);
  });

  it("a developer invited to an app reads its tenant document too", async () => {
    documents.set("tenants/app8", { kind: "app", name: "Eight", apiKeyPrefix: "sb_app8_BBBB" });
    developer.start();

    await emitAuth(fakeUser({ emailVerified: true, claims: { tenantId: "app8", role: "developer" } }));

    expect(developer.membership).toMatchObject({ tenantId: "app8", role: "developer", name: "Eight", kind: "app" });
  });

  it("an app user's account names its app but cannot read the tenant document", async () => {
    developer.start();
    await emitAuth(fakeUser({ claims: { tenantId: "app3", role: "user" } }));

    expect(developer.membership).toEqual({ tenantId: "app3", role: "user", kind: null, name: null, apiKeyPrefix: null });
  });

  it("an unverified account without an app shows the emulator's link locally", async () => {
    const user = fakeUser({ email: "bo@dev.test" });
    fakeAuth.currentUser = user;
    oobCodes = [
      { email: "bo@dev.test", requestType: "VERIFY_EMAIL", oobLink: "http://auth/old" },
      { email: "other@dev.test", requestType: "VERIFY_EMAIL", oobLink: "http://auth/other" },
      { email: "bo@dev.test", requestType: "PASSWORD_RESET", oobLink: "http://auth/reset" },
      { email: "bo@dev.test", requestType: "VERIFY_EMAIL", oobLink: "http://auth/new" },
    ];
    developer.start();

    await emitAuth(user);
    await settle();

    expect(developer.localVerificationLink).toBe("http://auth/new");
  });

  it("coming back to the tab looks at once whether the address was verified", async () => {
    const user = fakeUser();
    developer.start();
    await emitAuth(user);
    user.emailVerified = true;

    window.dispatchEvent(new Event("focus"));
    await settle();

    expect(authModule.reload).toHaveBeenCalledWith(user);
    expect(developer.verified).toBe(true);
  });
});

describe("'I have verified it'", () => {
  it("says so when the address is not verified yet", async () => {
    developer.start();
    await emitAuth(fakeUser());

    await developer.confirmVerified();

    expect(developer.verified).toBe(false);
    expect(developer.error).toBe("That address is not verified yet: open the link in the e-mail we sent, then try again.");
    expect(developer.busy).toBe(false);
  });

  it("moves on when it is", async () => {
    const user = fakeUser();
    developer.start();
    await emitAuth(user);
    user.emailVerified = true;

    await developer.confirmVerified();

    expect(developer.verified).toBe(true);
    expect(developer.error).toBeNull();
  });

  it("an offline moment is not an error: the next look tries again", async () => {
    const user = fakeUser();
    developer.start();
    await emitAuth(user);
    authModule.reload.mockRejectedValueOnce(firebaseError("auth/network-request-failed"));
    user.emailVerified = true;

    await vi.advanceTimersByTimeAsync(4000);
    expect(developer.verified).toBe(false);
    await vi.advanceTimersByTimeAsync(4000);
    expect(developer.verified).toBe(true);
  });

  it("'send it again' sends the e-mail, and explains a refusal", async () => {
    const user = fakeUser();
    fakeAuth.currentUser = user;
    await developer.resendVerification();
    expect(authModule.sendEmailVerification).toHaveBeenCalledWith(user, expect.objectContaining({ url: expect.any(String) }));
    expect(developer.verificationSent).toBe(true);

    developer.verificationSent = false;
    // Refused with the continue URL, and again without it.
    authModule.sendEmailVerification
      .mockRejectedValueOnce(firebaseError("auth/too-many-requests"))
      .mockRejectedValueOnce(firebaseError("auth/too-many-requests"));
    await developer.resendVerification();
    expect(developer.error).toBe("Too many attempts. Wait a moment and try again.");
    expect(developer.verificationSent).toBe(false);
  });
});

describe("what the developer is told", () => {
  it.each([
    ["auth/email-already-in-use", "An account with this email exists: sign in instead."],
    ["auth/weak-password", "Choose a password of at least 6 characters."],
    ["auth/invalid-email", "That email address is not valid."],
    ["auth/network-request-failed", "Could not reach the sign-in service."],
    ["auth/operation-not-allowed", "That did not work. Try again."],
  ])("signing up: %s", async (code, text) => {
    authModule.createUserWithEmailAndPassword.mockRejectedValueOnce(firebaseError(code));

    await developer.signUp("", "a@b.c", "pw");

    expect(developer.error).toBe(text);
    expect(developer.busy).toBe(false);
    expect(authModule.sendEmailVerification).not.toHaveBeenCalled();
  });

  it.each(["auth/invalid-credential", "auth/wrong-password", "auth/user-not-found"])("signing in: %s", async (code) => {
    authModule.signInWithEmailAndPassword.mockRejectedValueOnce(firebaseError(code));

    await developer.signIn(" a@b.c ", "pw");

    expect(authModule.signInWithEmailAndPassword).toHaveBeenCalledWith(fakeAuth, "a@b.c", "pw");
    expect(developer.error).toBe("Wrong email or password.");
  });

  it("a sign-up without a name sets none", async () => {
    signUpCreates(fakeUser());
    await developer.signUp("   ", "a@b.c", "pw");
    expect(authModule.updateProfile).not.toHaveBeenCalled();
    expect(developer.error).toBeNull();
  });
});

describe("creating the app", () => {
  async function verifiedDeveloper(): Promise<FakeUser> {
    const user = fakeUser({ emailVerified: true, claims: { email_verified: true } });
    developer.start();
    await emitAuth(user);
    return user;
  }

  it("uses the current token when it already carries the verified claim", async () => {
    await verifiedDeveloper();
    await developer.createApp("Shop");
    expect(server.callsTo("/create_app")[0].headers.Authorization).toBe("Bearer id-token");
  });

  it("an address the server finds unverified goes back to 'check your inbox'", async () => {
    await verifiedDeveloper();
    expect(developer.verified).toBe(true);
    createAnswer = () => ({ status: 403, body: { error: { code: "email_not_verified", message: "Verify your e-mail address first." } } });

    await developer.createApp("Shop");

    expect(developer.verified).toBe(false);
    expect(developer.error).toBe("Verify your e-mail address first.");
    expect(developer.created).toBeNull();
    await vi.advanceTimersByTimeAsync(4000);
    expect(authModule.reload).toHaveBeenCalled(); // looking again
  });

  it("shows the server's reason for other refusals, and keeps no key", async () => {
    await verifiedDeveloper();
    createAnswer = () => ({ status: 409, body: { error: { code: "already_member", message: "This account already has an app." } } });

    await developer.createApp("Shop");

    expect(developer.error).toBe("This account already has an app.");
    expect(developer.keyFor("app1")).toBeNull();
    expect(developer.verified).toBe(true);
  });

  it("says when the server cannot be reached", async () => {
    await verifiedDeveloper();
    createAnswer = () => new Error("offline");

    await developer.createApp("Shop");

    expect(developer.error).toBe("Could not reach the server. Check your connection and retry.");
  });

  it("a failure that is not the server's gets a generic message", async () => {
    const user = await verifiedDeveloper();
    user.getIdTokenResult.mockRejectedValueOnce(new Error("internal"));

    await developer.createApp("Shop");

    expect(developer.error).toBe("Could not create the app. Try again.");
  });

  it("one thing at a time: a click while creating is ignored", async () => {
    await verifiedDeveloper();
    let finish!: (answer: { status: number; body: unknown }) => void;
    createAnswer = () => new Promise((resolve) => (finish = resolve));

    const creating = developer.createApp("Shop");
    await settle();
    expect(developer.busy).toBe(true);
    await developer.createApp("Shop again");
    await developer.signIn("x@y.z", "pw");
    expect(server.callsTo("/create_app")).toHaveLength(1);
    expect(authModule.signInWithEmailAndPassword).not.toHaveBeenCalled();

    finish({ status: 200, body: CREATED });
    await creating;
    expect(developer.busy).toBe(false);
    expect(developer.keyFor("app1")).toBe(KEY);
    expect(developer.keyFor("app2")).toBeNull();
  });
});

describe("appOfKey", () => {
  it("reads the app from a well-formed key only", () => {
    expect(appOfKey(KEY)).toBe("app1");
    expect(appOfKey(`  ${KEY}\n`)).toBe("app1");
    expect(appOfKey(`sb_app1_${"A".repeat(42)}`)).toBeNull();
    expect(appOfKey(`pk_app1_${"A".repeat(43)}`)).toBeNull();
    expect(appOfKey("")).toBeNull();
  });
});
