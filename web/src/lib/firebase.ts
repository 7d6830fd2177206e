/** The Firebase app, Auth and Firestore clients: created once from the runtime config, pointed at
 * the emulators when the config names them. Everything else imports `auth()` and `db()` from here. */
import { initializeApp, type FirebaseApp } from "firebase/app";
import {
  browserLocalPersistence,
  connectAuthEmulator,
  indexedDBLocalPersistence,
  initializeAuth,
  type Auth,
} from "firebase/auth";
import { connectFirestoreEmulator, getFirestore, setLogLevel, type Firestore } from "firebase/firestore";

import type { RuntimeConfig } from "./config";

interface Services {
  app: FirebaseApp;
  auth: Auth;
  db: Firestore;
  config: RuntimeConfig;
}

let services: Services | null = null;

export function initFirebase(config: RuntimeConfig): Services {
  if (services) return services;
  const app = initializeApp({
    apiKey: config.apiKey,
    projectId: config.projectId,
    authDomain: `${config.projectId}.firebaseapp.com`,
  });
  // initializeAuth rather than getAuth: email/password only, so no popup/redirect resolver (and
  // none of its iframe code) is bundled. The session survives reloads (IndexedDB, else localStorage).
  const auth = initializeAuth(app, { persistence: [indexedDBLocalPersistence, browserLocalPersistence] });
  if (config.authHost) {
    connectAuthEmulator(auth, `http://${config.authHost}`, { disableWarnings: true });
  }
  const db = getFirestore(app);
  if (debugFirestore()) setLogLevel("debug");
  if (config.firestoreHost) {
    const [host, port] = splitHost(config.firestoreHost);
    connectFirestoreEmulator(db, host, port);
  }
  services = { app, auth, db, config };
  return services;
}

/** The browser asked for Firestore's debug log (web/README.md); a storage-less frame never does. */
function debugFirestore(): boolean {
  try {
    return Boolean(localStorage.getItem("switchboard:debug-firestore"));
  } catch {
    return false;
  }
}

function splitHost(hostPort: string): [string, number] {
  const index = hostPort.lastIndexOf(":");
  return [hostPort.slice(0, index), Number(hostPort.slice(index + 1))];
}

function current(): Services {
  if (!services) throw new Error("Firebase is not initialised: call initFirebase(config) first");
  return services;
}

export const auth = (): Auth => current().auth;
export const db = (): Firestore => current().db;
export const runtimeConfig = (): RuntimeConfig => current().config;
