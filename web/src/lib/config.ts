/** Runtime configuration, served beside the app as /config.json (generated locally by
 * infra/local/dashboard.py, by the deployment in production), so one build serves every place. */
export interface RuntimeConfig {
  projectId: string;
  apiKey: string;
  /** "host:port" of the Firebase Auth emulator; absent in production. */
  authHost?: string;
  /** "host:port" of the Firestore emulator; absent in production. */
  firestoreHost?: string;
  /** Web push: FCM's public VAPID key (production), or "local": the local stack's FCM stand-in
   * records pushes to a token the browser makes up (no push service is reached). Absent: no web push. */
  webPush?: { vapidKey: string } | "local";
  functions: {
    send_message: string;
    agent_api: string;
    /** Developer onboarding: a signed-in developer creates an app. */
    create_app: string;
    /** The chat API (the demo page mints its users' tokens with it). */
    chat_api: string;
  };
}

export async function loadConfig(): Promise<RuntimeConfig> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) {
    throw new Error(`could not load /config.json (HTTP ${response.status})`);
  }
  const config = (await response.json()) as RuntimeConfig;
  if (!config.projectId || !config.apiKey || !config.functions?.send_message || !config.functions?.agent_api) {
    throw new Error("/config.json lacks projectId, apiKey or functions.send_message/agent_api");
  }
  return config;
}
