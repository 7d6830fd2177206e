/* Switchboard's service worker for agents' web push (issue 17 part 1; web/src/lib/webPush.ts registers
 * it). FCM delivers each push as JSON {notification: {title, body}, data: {conversationId, event,
 * notificationId, ...}}. The notification is shown unless a dashboard tab is visible (that tab shows
 * its own toast from the notifications feed); one per conversation (tag), the latest replacing the
 * previous. A click focuses a dashboard tab (or opens one) on the conversation. */
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  event.waitUntil(
    (async () => {
      let payload = {};
      try {
        payload = event.data ? event.data.json() : {};
      } catch {
        return;
      }
      const note = payload.notification || {};
      const data = payload.data || {};
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      if (windows.some((client) => client.visibilityState === "visible")) return;
      await self.registration.showNotification(note.title || "Switchboard", {
        body: note.body || "",
        icon: "/favicon.svg",
        tag: data.conversationId ? `sb-${data.conversationId}` : undefined,
        renotify: Boolean(data.conversationId),
        data,
      });
    })(),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const id = (event.notification.data || {}).conversationId;
  const target = id && /^[A-Za-z0-9_-]+$/.test(id) ? `/#/c/${id}` : "/";
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (new URL(client.url).origin === self.location.origin) {
          await client.focus();
          try {
            await client.navigate(target);
          } catch {
            // a tab this worker does not control: focused, left where it is
          }
          return;
        }
      }
      await self.clients.openWindow(target);
    })(),
  );
});
