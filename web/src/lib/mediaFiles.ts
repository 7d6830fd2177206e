/** Media files, for the dashboard and the embeddable chat alike (no Firebase, no API client here,
 * so the embed's script carries only this): what a message's `content.media[]` says
 * (shared/store/media.py), a cache of signed URLs (5 minutes each; re-signed shortly before they
 * expire), and uploading straight to Cloud Storage through a signed resumable upload (POST to
 * start it, then PUT the file to the session, with progress). The bucket is never read or written
 * without a signed URL from a function that checked the caller. */

export type MediaState = "pending" | "stored" | "failed";
export type MediaKind = "image" | "sticker" | "audio" | "video" | "document";

/** One file of a message, as the dashboard shows it (never its storage path). */
export interface MediaEntry {
  index: number;
  state: MediaState;
  contentType: string | null;
  size: number | null;
  fileName: string | null;
  width: number | null;
  height: number | null;
  durationSeconds: number | null;
  hasThumbnail: boolean;
  reason: string | null;
}

/** What agent_api `mediaUrl` answers. */
export interface SignedMedia {
  url: string;
  expiresAt: string;
  contentType: string;
  size?: number | null;
  fileName?: string | null;
  variant: "original" | "thumbnail";
}

/** What agent_api (and chat_api) `uploadUrl` answers. */
export interface SignedUpload {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  path: string;
  fileName: string;
  contentType: string;
  size: number;
  expiresAt: string;
}

const num = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const text = (value: unknown): string | null => (typeof value === "string" && value ? value : null);

/** `content.media` as a list (a single object is one file; anything else is none). */
export function mediaEntries(content: Record<string, unknown> | null | undefined): MediaEntry[] {
  const raw = content?.media;
  const list = Array.isArray(raw) ? raw : raw && typeof raw === "object" ? [raw] : [];
  return list
    .map((item, index) => ({ item: item as Record<string, unknown>, index }))
    .filter(({ item }) => item && typeof item === "object")
    .map(({ item, index }) => {
      const state = item.state === "stored" || item.state === "failed" ? item.state : "pending";
      return {
        index,
        state,
        contentType: text(item.contentType),
        size: num(item.size),
        fileName: text(item.fileName),
        width: num(item.width),
        height: num(item.height),
        durationSeconds: num(item.durationSeconds),
        hasThumbnail: Boolean(item.thumbnailPath) || item.hasThumbnail === true,
        reason: text(item.reason),
      };
    });
}

/** How to show a file: by its (sniffed) content type; the message type decides stickers, and
 * decides alone while the type is not known yet (still downloading). SVG and anything that is not
 * a plain picture, sound or film is a document: downloaded, never rendered. */
export function kindOf(entry: Pick<MediaEntry, "contentType">, messageType: string): MediaKind {
  const type = entry.contentType?.toLowerCase() ?? "";
  if (messageType === "sticker" && (type.startsWith("image/") || !type)) return "sticker";
  if (/^image\/(jpeg|png|gif|webp)$/.test(type)) return "image";
  if (type.startsWith("audio/")) return "audio";
  if (type.startsWith("video/")) return "video";
  if (!type && ["image", "audio", "video"].includes(messageType)) return messageType as MediaKind;
  return "document";
}

/** "820 B", "14 KB", "3.4 MB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  const mb = bytes / (1024 * 1024);
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** "0:07", "12:30". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "";
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

// --- signed URLs ---------------------------------------------------------------------------------

/** Reused until this long before they expire (a video may still be loading when one runs out). */
const REFRESH_MARGIN_MS = 60_000;

type Variant = "original" | "thumbnail";
type Fetcher = (conversationId: string, messageId: string, index: number, variant: Variant) => Promise<SignedMedia>;

/** Signed URLs by file and variant: one call per file while its URL is fresh, one call in flight
 * for many components asking at once; a failure is not remembered (the next ask tries again). */
export function createSignedUrls(fetcher: Fetcher, now: () => number = Date.now) {
  const fresh = new Map<string, { url: string; expiresAtMs: number }>();
  const inFlight = new Map<string, Promise<string>>();
  return {
    async get(conversationId: string, messageId: string, index: number, variant: Variant): Promise<string> {
      const key = `${conversationId}/${messageId}/${index}/${variant}`;
      const known = fresh.get(key);
      if (known && known.expiresAtMs - REFRESH_MARGIN_MS > now()) return known.url;
      const running = inFlight.get(key);
      if (running) return running;
      const call = fetcher(conversationId, messageId, index, variant)
        .then((signed) => {
          const expiresAtMs = Date.parse(signed.expiresAt);
          fresh.set(key, { url: signed.url, expiresAtMs: Number.isNaN(expiresAtMs) ? now() + 4 * 60_000 : expiresAtMs });
          return signed.url;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, call);
      return call;
    },
    /** Forget a URL that stopped working (expired while the tab slept): the next get signs anew. */
    forget(conversationId: string, messageId: string, index: number, variant: Variant): void {
      fresh.delete(`${conversationId}/${messageId}/${index}/${variant}`);
    },
    clear(): void {
      fresh.clear();
    },
  };
}


// --- uploading -----------------------------------------------------------------------------------

export class UploadError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "UploadError";
  }
}

interface Answered {
  status: number;
  header(name: string): string | null;
}

/** One request with upload progress (fetch has none): XMLHttpRequest, abortable. */
function request(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: Blob | string,
  onProgress?: (loaded: number, total: number) => void,
  signal?: AbortSignal,
): Promise<Answered> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total);
    xhr.onload = () => resolve({ status: xhr.status, header: (name) => xhr.getResponseHeader(name) });
    xhr.onerror = () => reject(new UploadError("The upload could not reach storage. Check your connection and retry.", 0));
    xhr.onabort = () => reject(new UploadError("The upload was cancelled.", 0));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

/** Upload `file` through a signed resumable upload: POST the signed headers to start the session,
 * then PUT the whole file to the session URL (Location), reporting progress (0..1). */
export async function uploadToStorage(
  signed: SignedUpload,
  file: Blob,
  onProgress: (fraction: number) => void = () => undefined,
  signal?: AbortSignal,
): Promise<void> {
  const started = await request("POST", signed.url, signed.headers, "", undefined, signal);
  const session = started.header("Location");
  if (started.status !== 200 && started.status !== 201) {
    throw new UploadError(
      started.status === 400 || started.status === 403
        ? "The upload link expired or was refused: attach the file again."
        : `Storage refused the upload (HTTP ${started.status}).`,
      started.status,
    );
  }
  if (!session) throw new UploadError("Storage gave no upload session.", started.status);
  onProgress(0);
  const done = await request(
    "PUT",
    session,
    { "Content-Type": signed.contentType },
    file,
    (loaded, total) => onProgress(total > 0 ? Math.min(1, loaded / total) : 0),
    signal,
  );
  if (done.status !== 200 && done.status !== 201) {
    throw new UploadError(`Storage refused the upload (HTTP ${done.status}).`, done.status);
  }
  onProgress(1);
}

/** What an agent attaches becomes: an image, audio, video, or else a document. */
export function attachmentType(contentType: string): "image" | "audio" | "video" | "document" {
  const type = contentType.toLowerCase();
  if (/^image\/(jpeg|png|gif|webp)$/.test(type)) return "image";
  if (type.startsWith("audio/")) return "audio";
  if (type.startsWith("video/")) return "video";
  return "document";
}

/** A type the browser could not name, from the file's extension (the server sniffs anyway). */
export function guessContentType(file: { name: string; type: string }): string {
  if (file.type) return file.type;
  const ext = file.name.toLowerCase().split(".").pop() ?? "";
  const known: Record<string, string> = {
    jpg: "image/jpeg",
    jpeg: "image/jpeg",
    png: "image/png",
    gif: "image/gif",
    webp: "image/webp",
    pdf: "application/pdf",
    txt: "text/plain",
    csv: "text/csv",
    ogg: "audio/ogg",
    opus: "audio/ogg",
    mp3: "audio/mpeg",
    m4a: "audio/mp4",
    mp4: "video/mp4",
    mov: "video/quicktime",
    docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  };
  return known[ext] ?? "application/octet-stream";
}

