/** This browser's web push (issue 17 part 1): the service worker (/notifications-sw.js, served from
 * web/public/) shows the notifications FCM pushes while the dashboard's tab is in the background or
 * closed; the browser's FCM token is registered with agent_api so shared/notifications.py pushes to it.
 *
 * Production (`webPush: {vapidKey}` in /config.json): firebase/messaging's getToken subscribes the
 * service worker's push manager with the project's VAPID key. Locally (`webPush: "local"`) there is
 * no push service: the browser makes up a token (kept in localStorage), the FCM stand-in records what
 * would be pushed to it, and the e2e test reads it there. */
import { getApp } from "firebase/app";

import { api } from "./api";
import type { RuntimeConfig } from "./config";

export const SERVICE_WORKER = "/notifications-sw.js";
const LOCAL_TOKEN_KEY = "switchboard.localPushToken";
const REGISTERED_KEY = "switchboard.pushToken";

export type PushState = "unsupported" | "off" | "default" | "denied" | "registered" | "error";

export function supported(config: RuntimeConfig): boolean {
  return Boolean(config.webPush) && "serviceWorker" in navigator && "Notification" in window;
}

/** Where this browser stands, without asking anything. */
export function pushState(config: RuntimeConfig): PushState {
  if (!config.webPush) return "off";
  if (!supported(config)) return "unsupported";
  if (Notification.permission === "denied") return "denied";
  if (Notification.permission === "default") return "default";
  return localStorage.getItem(REGISTERED_KEY) ? "registered" : "default";
}

async function token(config: RuntimeConfig, registration: ServiceWorkerRegistration): Promise<string> {
  if (config.webPush === "local") {
    let local = localStorage.getItem(LOCAL_TOKEN_KEY);
    if (!local) {
      local = `local-web-${crypto.randomUUID()}`;
      localStorage.setItem(LOCAL_TOKEN_KEY, local);
    }
    return local;
  }
  const { getMessaging, getToken } = await import("firebase/messaging");
  return getToken(getMessaging(getApp()), {
    vapidKey: (config.webPush as { vapidKey: string }).vapidKey,
    serviceWorkerRegistration: registration,
  });
}

/** Ask for permission when `ask` (a click: browsers want a gesture), register the service worker and
 * this browser's token. */
export async function enable(config: RuntimeConfig, ask: boolean): Promise<PushState> {
  if (!supported(config)) return config.webPush ? "unsupported" : "off";
  let permission = Notification.permission;
  if (permission === "default" && ask) permission = await Notification.requestPermission();
  if (permission !== "granted") return permission === "denied" ? "denied" : "default";
  try {
    const registration = await navigator.serviceWorker.register(SERVICE_WORKER);
    const current = await token(config, registration);
    await api.registerPushToken(current);
    localStorage.setItem(REGISTERED_KEY, current);
    return "registered";
  } catch {
    return "error";
  }
}

/** Signing out: this browser stops receiving the agent's pushes. */
export async function disable(): Promise<void> {
  const current = localStorage.getItem(REGISTERED_KEY);
  if (!current) return;
  localStorage.removeItem(REGISTERED_KEY);
  await api.unregisterPushToken(current).catch(() => undefined);
}
