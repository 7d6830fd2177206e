/** Where the widget's settings come from. A developer's page names only the app
 * (`config: { appId }`); everything else a deployment knows (project, web API key, the chat API's
 * URL, the emulator hosts locally) is read from `/config.json` at the origin the bundle itself was
 * loaded from, the same file the dashboard reads. Fields given in `config` win. */

export interface EmbedConfig {
  /** The app (tenant) the token must belong to; checked against the token's `tenantId` claim. */
  appId?: string;
  projectId?: string;
  apiKey?: string;
  /** The chat API's base URL: operations are `POST {apiUrl}/v1/{operation}`. */
  apiUrl?: string;
  /** "host:port" of the Firebase Auth emulator (local stacks only). */
  authHost?: string;
  /** "host:port" of the Firestore emulator (local stacks only). */
  firestoreHost?: string;
}

export interface ResolvedConfig {
  appId?: string;
  projectId: string;
  apiKey: string;
  apiUrl: string;
  authHost?: string;
  firestoreHost?: string;
}

/** What the deployment serves as /config.json (only the fields the widget uses). */
interface ServedConfig {
  projectId?: string;
  apiKey?: string;
  authHost?: string;
  firestoreHost?: string;
  functions?: { chat_api?: string };
}

/** The origin this bundle was loaded from: read once, while the script is being evaluated
 * (`document.currentScript` is null afterwards). */
export function scriptOrigin(): string | null {
  const script = document.currentScript;
  const src =
    script instanceof HTMLScriptElement && script.src
      ? script.src
      : // Loaded some other way: look for our own script tag.
        document.querySelector<HTMLScriptElement>('script[src*="switchboard-chat"]')?.src;
  if (!src) return null;
  try {
    return new URL(src, document.baseURI).origin;
  } catch {
    return null;
  }
}

// One fetch per origin, however many widgets a page mounts.
const served = new Map<string, Promise<ServedConfig>>();

function fetchServed(origin: string): Promise<ServedConfig> {
  let pending = served.get(origin);
  if (!pending) {
    const url = `${origin}/config.json`;
    pending = fetch(url, { cache: "no-store", credentials: "omit" })
      .catch(() => {
        throw new Error(`could not reach ${url}`);
      })
      .then(async (response) => {
        if (!response.ok) throw new Error(`could not load ${url} (HTTP ${response.status})`);
        return (await response.json()) as ServedConfig;
      });
    // A failure is not cached: the next mount tries again.
    pending.catch(() => served.delete(origin));
    served.set(origin, pending);
  }
  return pending;
}

const clean = (value: string | undefined): string | undefined => value?.trim() || undefined;

/** The given config completed from `{origin}/config.json` when anything required is missing. */
export async function resolveConfig(given: EmbedConfig, origin: string | null): Promise<ResolvedConfig> {
  let projectId = clean(given.projectId);
  let apiKey = clean(given.apiKey);
  let apiUrl = clean(given.apiUrl);
  let authHost = clean(given.authHost);
  let firestoreHost = clean(given.firestoreHost);
  if (!projectId || !apiKey || !apiUrl) {
    if (!origin) {
      throw new Error(
        "config lacks projectId, apiKey or apiUrl, and the script's origin (to read /config.json from) is unknown",
      );
    }
    const fromServer = await fetchServed(origin);
    projectId ??= clean(fromServer.projectId);
    apiKey ??= clean(fromServer.apiKey);
    apiUrl ??= clean(fromServer.functions?.chat_api);
    // The emulator hosts come with the rest of a local stack's settings, never on their own.
    authHost ??= clean(fromServer.authHost);
    firestoreHost ??= clean(fromServer.firestoreHost);
  }
  if (!projectId || !apiKey || !apiUrl) {
    throw new Error("no projectId, apiKey or chat API URL in the config or in /config.json");
  }
  return { appId: clean(given.appId), projectId, apiKey, apiUrl: apiUrl.replace(/\/+$/, ""), authHost, firestoreHost };
}
