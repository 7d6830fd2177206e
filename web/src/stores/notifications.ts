/** The signed-in agent's notifications (issue 17 part 1): their feed, listened to live
 * (tenants/{t}/agents/{uid}/notifications, readable only by them), which drives the in-app toast and
 * sound for what arrives while the dashboard is open, and the unread count the tab's title and the
 * favicon badge show; their settings (events, quiet hours) and this browser's web push. */
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { collection, limit, onSnapshot, orderBy, query, type Unsubscribe } from "firebase/firestore";

import { api, type NotificationEvent, type NotificationPreferences, type NotificationSettings } from "../lib/api";
import { chime } from "../lib/badge";
import { db } from "../lib/firebase";

export const FEED_SIZE = 30;
export const TOAST_MS = 8000;

export interface AgentNotification {
  id: string;
  event: NotificationEvent;
  conversationId: string;
  messageId: string | null;
  title: string;
  body: string;
  read: boolean;
  quiet: boolean;
  createdAtMs: number;
}

export function toNotification(id: string, data: Record<string, any>): AgentNotification {
  return {
    id,
    event: data.event,
    conversationId: String(data.conversationId ?? ""),
    messageId: data.messageId ?? null,
    title: String(data.title ?? ""),
    body: String(data.body ?? ""),
    read: Boolean(data.read),
    quiet: Boolean(data.quiet),
    createdAtMs: Number(data.createdAtMs ?? 0),
  };
}

export const EVENT_LABELS: Record<NotificationEvent, string> = {
  new_conversation: "A new conversation",
  message: "A customer's message in a conversation assigned to me",
  mention: "A mention of me in a note",
  assigned: "A conversation assigned to me",
};

export const useNotifications = defineStore("notifications", () => {
  const items = ref<AgentNotification[]>([]);
  const toasts = ref<AgentNotification[]>([]);
  const settings = ref<NotificationSettings | null>(null);
  const failed = ref(false);
  let stopFeed: Unsubscribe | null = null;
  let seen: Set<string> | null = null; // null until the first snapshot: what was there is no news
  const timers = new Map<string, number>();

  const unread = computed(() => items.value.filter((n) => !n.read).length);

  function start(tenantId: string, uid: string): void {
    stop();
    const feed = query(
      collection(db(), "tenants", tenantId, "agents", uid, "notifications"),
      orderBy("createdAtMs", "desc"),
      limit(FEED_SIZE),
    );
    stopFeed = onSnapshot(
      feed,
      (snapshot) => {
        failed.value = false;
        const next = snapshot.docs.map((d) => toNotification(d.id, d.data()));
        const fresh = seen ? next.filter((n) => !seen!.has(n.id) && !n.read && !n.quiet) : [];
        seen = new Set(next.map((n) => n.id));
        items.value = next;
        if (fresh.length) alert(fresh);
      },
      () => {
        failed.value = true;
        items.value = [];
      },
    );
  }

  /** In-app: a toast per new notification (the latest three) and one chime. */
  function alert(fresh: AgentNotification[]): void {
    for (const notification of fresh.slice(0, 3).reverse()) {
      toasts.value = [notification, ...toasts.value.filter((t) => t.id !== notification.id)].slice(0, 3);
      timers.set(notification.id, window.setTimeout(() => dismiss(notification.id), TOAST_MS));
    }
    chime();
  }

  function dismiss(id: string): void {
    toasts.value = toasts.value.filter((t) => t.id !== id);
    const timer = timers.get(id);
    if (timer !== undefined) window.clearTimeout(timer);
    timers.delete(id);
  }

  /** The agent opened a notification: it is read, its toast gone; the caller opens the conversation. */
  async function markRead(id: string): Promise<void> {
    dismiss(id);
    items.value = items.value.map((n) => (n.id === id ? { ...n, read: true } : n));
    await api.markNotificationsRead([id]).catch(() => undefined); // the listener has the last word
  }

  async function markAllRead(): Promise<void> {
    items.value = items.value.map((n) => ({ ...n, read: true }));
    await api.markNotificationsRead().catch(() => undefined);
  }

  async function loadSettings(): Promise<NotificationSettings> {
    settings.value = await api.notificationSettings();
    return settings.value;
  }

  async function saveSettings(preferences: NotificationPreferences): Promise<void> {
    const saved = await api.saveNotificationSettings({ events: preferences.events, quietHours: preferences.quietHours });
    settings.value = { ...saved, browsers: settings.value?.browsers ?? 0 };
  }

  function stop(): void {
    stopFeed?.();
    stopFeed = null;
    seen = null;
    items.value = [];
    toasts.value = [];
    timers.forEach((timer) => window.clearTimeout(timer));
    timers.clear();
  }

  return { items, toasts, settings, failed, unread, start, stop, dismiss, markRead, markAllRead, loadSettings, saveSettings };
});
