/** The embeddable chat: `window.SwitchboardChat.mount(element, { token, config: { appId } })`.
 *
 * Built by vite.embed.config.ts into one self-contained script, dist/embed/switchboard-chat.js
 * (Vue, the Firebase SDK and the styles inside). Each mount renders into an open shadow root on the
 * given element, so the host page's CSS and the widget's never meet, and signs in on its own named
 * Firebase app, so two widgets for two users can share a page. */
import { createApp, markRaw, reactive, type App } from "vue";

import ChatWidget from "./ChatWidget.vue";
import { resolveConfig, scriptOrigin, type EmbedConfig } from "./config";
import { ChatSession, describe } from "./session";
import type { WidgetState } from "./state";
import styles from "./embed.css?inline";

export type { EmbedConfig } from "./config";

export interface MountOptions {
  /** A Firebase custom token for the user: the app's backend gets it from POST {chat_api}/v1/token. */
  token: string;
  /** Missing fields are read from /config.json at the origin this script was loaded from. */
  config?: EmbedConfig;
  /** Open this channel once the list has loaded. */
  channelId?: string;
  /** Open the direct channel with this user of the app (created the first time: createPM), e.g.
   * behind a "Message Bob" button on the developer's page. Wins over channelId. */
  directTo?: string;
}

export interface MountedChat {
  userId: string;
  /** Stop every listener, sign out, delete the Firebase app and remove the widget. */
  unmount(): Promise<void>;
}

// document.currentScript is only set while this script is being evaluated: read it now.
const ORIGIN = scriptOrigin();
const mounted = new WeakMap<HTMLElement, MountedChat>();

export async function mount(element: HTMLElement, options: MountOptions): Promise<MountedChat> {
  if (!(element instanceof HTMLElement)) throw new TypeError("SwitchboardChat.mount needs an element");
  // An element holds one widget: mounting again replaces it.
  await mounted.get(element)?.unmount();

  // An element's shadow root cannot be removed: a remount reuses the one a previous mount made.
  const shadow = element.shadowRoot ?? element.attachShadow({ mode: "open" });
  shadow.replaceChildren();
  const style = document.createElement("style");
  style.textContent = styles;
  const container = document.createElement("div");
  container.className = "sb-container";
  shadow.append(style, container);

  const state = reactive<WidgetState>({
    phase: "connecting",
    error: "",
    session: null,
    channelId: options?.channelId ?? null,
  });
  const app: App = createApp(ChatWidget, { state });
  app.mount(container);

  let session: ChatSession | null = null;
  let gone = false;
  const handle: MountedChat = {
    userId: "",
    async unmount() {
      if (gone) return;
      gone = true;
      if (mounted.get(element) === handle) mounted.delete(element);
      app.unmount(); // components stop their listeners
      await session?.close(); // and the session stops any left, signs out, deletes the app
      if (element.shadowRoot === shadow) shadow.replaceChildren();
    },
  };
  mounted.set(element, handle);

  try {
    const config = await resolveConfig(options?.config ?? {}, ORIGIN);
    session = await ChatSession.open(options?.token, config);
    if (options?.directTo) {
      // Before the list starts listening: its first snapshot already holds the channel.
      const direct = await session.call<{ id: string }>("createPM", { userId: options.directTo });
      state.channelId = direct.id;
    }
  } catch (exc) {
    await session?.close().catch(() => undefined); // signed in, then refused (an unknown directTo)
    state.phase = "failed";
    state.error = describe(exc);
    // The message stays in the page (role=alert) until unmount; the caller gets the rejection.
    throw new Error(`Switchboard chat: ${state.error}`);
  }
  if (gone) {
    // Unmounted while signing in.
    await session.close();
    throw new Error("Switchboard chat: unmounted before it started");
  }
  state.session = markRaw(session); // Firebase objects must not be wrapped in Vue proxies
  state.phase = "ready";
  handle.userId = session.userId;
  return handle;
}
