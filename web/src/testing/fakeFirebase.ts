/** Stand-ins for the Firebase JS SDK (firebase/app, firebase/auth, firebase/firestore) in unit tests
 * of the stores and the embed: nothing reaches Firebase. A test file swaps them in with
 *
 *   vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
 *   vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
 *   vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);
 *
 * and drives what the SDK would deliver itself: `listenersOn(path)` finds the live onSnapshot
 * listeners on a collection, collection group (see Ref) or document path (their query constraints
 * included), `querySnapshot` and `docSnapshot` build what they are called with, `emitAuth(user)` plays onAuthStateChanged.
 * The real SDK against the emulators is covered by the e2e tests in Chromium (tests/e2e/). */
import { vi } from "vitest";

// --- Firestore -----------------------------------------------------------------------------------

export interface Constraint {
  type: "where" | "orderBy" | "limit" | "limitToLast";
  field?: string;
  op?: string;
  value?: unknown;
  direction?: string;
  count?: number;
}

export interface Ref {
  // "collectionGroup": collectionGroup(db, id), whose listeners are found on the path "**/<id>".
  kind: "collection" | "collectionGroup" | "doc";
  path: string;
  id: string;
}

export interface Query {
  kind: "query";
  path: string;
  constraints: Constraint[];
}

export interface Listener {
  target: Ref | Query;
  path: string;
  constraints: Constraint[];
  options: { includeMetadataChanges?: boolean } | null;
  next: (snapshot: any) => void;
  error?: (exc: { code: string; message: string }) => void;
  active: boolean;
  unsubscribe: () => void;
}

const listeners: Listener[] = [];
/** Documents getDoc answers with, by path ("tenants/t1/agents/u1"). */
export const documents = new Map<string, Record<string, unknown>>();

const fakeDb = { type: "firestore" };

function path(segments: unknown[]): string {
  return segments.map(String).join("/");
}

export interface FakeDoc {
  id: string;
  data: (options?: unknown) => Record<string, any>;
  exists: () => boolean;
}

/** A document snapshot: `data` undefined means the document does not exist. */
export function docSnapshot(id: string, data?: Record<string, any>): FakeDoc {
  return { id, data: () => (data === undefined ? undefined : { ...data }) as Record<string, any>, exists: () => data !== undefined };
}

export interface QuerySnapshotOptions {
  fromCache?: boolean;
  /** docChanges(); by default every document is "added". */
  changes?: { type: "added" | "modified" | "removed"; doc: FakeDoc }[];
}

export function querySnapshot(docs: FakeDoc[], options: QuerySnapshotOptions = {}) {
  return {
    docs,
    size: docs.length,
    empty: docs.length === 0,
    metadata: { fromCache: options.fromCache ?? false, hasPendingWrites: false },
    docChanges: () => options.changes ?? docs.map((doc) => ({ type: "added" as const, doc })),
  };
}

/** Live (not unsubscribed) listeners on `path` (a collection's or a document's). */
export function listenersOn(path: string): Listener[] {
  return listeners.filter((listener) => listener.active && listener.path === path);
}

/** The one live listener on `path`; fails the test if there is none or several. */
export function listenerOn(path: string): Listener {
  const found = listenersOn(path);
  if (found.length !== 1) throw new Error(`expected one live listener on ${path}, found ${found.length}`);
  return found[0]!;
}

export function activeListeners(): Listener[] {
  return listeners.filter((listener) => listener.active);
}

/** Every listener ever attached on `path`, live or not, oldest first. */
export function allListenersOn(path: string): Listener[] {
  return listeners.filter((listener) => listener.path === path);
}

/** The constraint of `type` (on `field`, when given) of a listener's query. */
export function constraint(listener: Listener, type: Constraint["type"], field?: string): Constraint | undefined {
  return listener.constraints.find((item) => item.type === type && (field === undefined || item.field === field));
}

function onSnapshot(target: Ref | Query, ...rest: any[]): () => void {
  let options: Listener["options"] = null;
  if (rest.length && typeof rest[0] === "object" && rest[0] !== null && typeof rest[0] !== "function") {
    options = rest.shift();
  }
  const listener: Listener = {
    target,
    path: target.path,
    constraints: target.kind === "query" ? target.constraints : [],
    options,
    next: rest[0],
    error: rest[1],
    active: true,
    unsubscribe: () => {
      listener.active = false;
    },
  };
  listeners.push(listener);
  return () => listener.unsubscribe();
}

export const firestoreModule = {
  getFirestore: vi.fn(() => fakeDb),
  initializeFirestore: vi.fn(() => fakeDb),
  connectFirestoreEmulator: vi.fn(),
  setLogLevel: vi.fn(),
  collection: (_db: unknown, ...segments: string[]): Ref => ({
    kind: "collection",
    path: path(segments),
    id: segments[segments.length - 1]!,
  }),
  collectionGroup: (_db: unknown, id: string): Ref => ({ kind: "collectionGroup", path: `**/${id}`, id }),
  doc: (_db: unknown, ...segments: string[]): Ref => ({ kind: "doc", path: path(segments), id: segments[segments.length - 1]! }),
  /** The sentinel a where() on the document id names (the SDK's FieldPath.documentId()). */
  documentId: () => "__name__",
  query: (ref: Ref, ...constraints: Constraint[]): Query => ({ kind: "query", path: ref.path, constraints }),
  where: (field: string, op: string, value: unknown): Constraint => ({ type: "where", field, op, value }),
  orderBy: (field: string, direction = "asc"): Constraint => ({ type: "orderBy", field, direction }),
  limit: (count: number): Constraint => ({ type: "limit", count }),
  limitToLast: (count: number): Constraint => ({ type: "limitToLast", count }),
  onSnapshot: vi.fn(onSnapshot),
  getDoc: vi.fn(async (ref: Ref) => docSnapshot(ref.id, documents.get(ref.path))),
};

// --- Auth ----------------------------------------------------------------------------------------

export interface FakeUser {
  uid: string;
  email: string | null;
  emailVerified: boolean;
  displayName: string | null;
  claims: Record<string, unknown>;
  /** Claims the next forced refresh brings (set by the server meanwhile), then kept. */
  nextClaims: Record<string, unknown> | null;
  signInProvider: string;
  getIdToken: ReturnType<typeof vi.fn>;
  getIdTokenResult: ReturnType<typeof vi.fn>;
}

export function fakeUser(fields: Partial<Omit<FakeUser, "getIdToken" | "getIdTokenResult">> = {}): FakeUser {
  const user: FakeUser = {
    uid: "uid-1",
    email: "someone@example.test",
    emailVerified: false,
    displayName: null,
    claims: {},
    nextClaims: null,
    signInProvider: "password",
    ...fields,
    getIdToken: vi.fn(async (force?: boolean) => {
      if (force && user.nextClaims) user.claims = user.nextClaims;
      return force ? "fresh-id-token" : "id-token";
    }),
    getIdTokenResult: vi.fn(async (force?: boolean) => {
      if (force && user.nextClaims) user.claims = user.nextClaims;
      return { claims: { ...user.claims }, signInProvider: user.signInProvider, token: "id-token" };
    }),
  };
  return user;
}

export const fakeAuth: { currentUser: FakeUser | null; name: string } = { currentUser: null, name: "auth" };
const authObservers: ((user: FakeUser | null) => unknown)[] = [];

/** Play onAuthStateChanged: sets currentUser and calls every observer (awaiting their promises). */
export async function emitAuth(user: FakeUser | null): Promise<void> {
  fakeAuth.currentUser = user;
  await Promise.all(authObservers.map((observer) => observer(user)));
}

export const authModule = {
  initializeAuth: vi.fn(() => fakeAuth),
  getAuth: vi.fn(() => fakeAuth),
  connectAuthEmulator: vi.fn(),
  indexedDBLocalPersistence: { type: "LOCAL" },
  browserLocalPersistence: { type: "LOCAL" },
  inMemoryPersistence: { type: "NONE" },
  onAuthStateChanged: vi.fn((_auth: unknown, observer: (user: FakeUser | null) => unknown) => {
    authObservers.push(observer);
    return () => authObservers.splice(authObservers.indexOf(observer), 1);
  }),
  signInWithEmailAndPassword: vi.fn(async () => ({ user: fakeAuth.currentUser })),
  createUserWithEmailAndPassword: vi.fn(async () => ({ user: fakeAuth.currentUser })),
  signInWithCustomToken: vi.fn(async () => ({ user: fakeAuth.currentUser })),
  signOut: vi.fn(async () => undefined),
  reload: vi.fn(async () => undefined),
  sendEmailVerification: vi.fn(async () => undefined),
  updateProfile: vi.fn(async () => undefined),
};

// --- App -----------------------------------------------------------------------------------------

export const appModule = {
  initializeApp: vi.fn((options: Record<string, unknown>, name = "[DEFAULT]") => ({ name, options })),
  deleteApp: vi.fn(async () => undefined),
};

/** A Firebase-style error (`code` like "auth/invalid-credential" or "permission-denied"). */
export function firebaseError(code: string, message = code): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** Forget every listener, document, observer and signed-in user, and every mock's calls. */
export function resetFirebase(): void {
  listeners.length = 0;
  documents.clear();
  authObservers.length = 0;
  fakeAuth.currentUser = null;
  for (const module of [firestoreModule, authModule, appModule]) {
    for (const value of Object.values(module)) {
      if (vi.isMockFunction(value)) value.mockClear();
    }
  }
}

// --- fetch (the HTTPS functions) -----------------------------------------------------------------

export interface Call {
  url: string;
  body: any;
  headers: Record<string, string>;
  init: RequestInit;
}

type Answer = { status: number; body?: unknown } | Error;

/** A stand-in for fetch: records each call; `answer(url => ...)` decides what comes back
 * (an Error: the network failed). Install it with vi.stubGlobal("fetch", server.fetch). */
export function fakeServer(route: (call: Call) => Answer | Promise<Answer> = () => ({ status: 200, body: {} })) {
  const calls: Call[] = [];
  let handler = route;
  const fetch = vi.fn(async (url: string, init: RequestInit = {}) => {
    const call: Call = {
      url: String(url),
      body: typeof init.body === "string" ? JSON.parse(init.body) : init.body,
      headers: (init.headers ?? {}) as Record<string, string>,
      init,
    };
    calls.push(call);
    const answer = await handler(call);
    if (answer instanceof Error) throw new TypeError("Failed to fetch");
    // What callFunction reads of a Response (a plain object: no stream, no timers).
    const { status, body } = answer;
    return {
      ok: status >= 200 && status < 300,
      status,
      json: async () => {
        if (body === undefined) throw new SyntaxError("Unexpected end of JSON input");
        return JSON.parse(JSON.stringify(body));
      },
    } as Response;
  });
  return {
    fetch,
    calls,
    /** Calls whose URL ends with `suffix`. */
    callsTo: (suffix: string) => calls.filter((call) => call.url.endsWith(suffix)),
    answer(next: typeof route) {
      handler = next;
    },
  };
}

/** Let pending promise callbacks run (rounds of microtasks, and one macrotask tick unless the
 * test's timers are fake: those move only when the test advances them). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  if (!vi.isFakeTimers()) await new Promise((resolve) => setTimeout(resolve, 0));
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
