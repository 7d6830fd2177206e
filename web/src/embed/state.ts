import type { ChatSession } from "./session";

/** What the root component shows; mount() moves it from connecting to ready or failed. */
export interface WidgetState {
  phase: "connecting" | "ready" | "failed";
  error: string;
  session: ChatSession | null;
  /** Open this channel once the list has loaded (mount's options.channelId). */
  channelId: string | null;
}
