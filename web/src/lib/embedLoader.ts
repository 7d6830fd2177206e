/** Loads the embeddable chat (`/embed/switchboard-chat.js`, built from src/embed/) the way a
 * developer's page does, with a script tag, once per page. */

export interface MountedChat {
  userId: string;
  unmount(): Promise<void>;
}

export interface SwitchboardChatGlobal {
  mount(
    element: HTMLElement,
    options: { token: string; config?: Record<string, string>; channelId?: string },
  ): Promise<MountedChat>;
}

declare global {
  interface Window {
    SwitchboardChat?: SwitchboardChatGlobal;
  }
}

export const EMBED_PATH = "/embed/switchboard-chat.js";

let loading: Promise<SwitchboardChatGlobal> | null = null;

export function loadEmbed(): Promise<SwitchboardChatGlobal> {
  if (window.SwitchboardChat) return Promise.resolve(window.SwitchboardChat);
  loading ??= new Promise<SwitchboardChatGlobal>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = EMBED_PATH;
    script.async = true;
    script.onload = () =>
      window.SwitchboardChat
        ? resolve(window.SwitchboardChat)
        : reject(new Error(`${EMBED_PATH} loaded but defined no SwitchboardChat`));
    script.onerror = () => {
      loading = null;
      script.remove();
      reject(new Error(`could not load ${EMBED_PATH}`));
    };
    document.head.append(script);
  });
  return loading;
}
