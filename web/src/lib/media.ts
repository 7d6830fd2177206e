/** Media in the dashboard: lib/mediaFiles.ts with the agent's API (agent_api `mediaUrl` and
 * `uploadUrl`, shared/media/access.py). */
import { api } from "./api";
import { guessContentType, createSignedUrls, uploadToStorage } from "./mediaFiles";
import type { OutgoingAttachment } from "./types";

export * from "./mediaFiles";

export const signedUrls = createSignedUrls((c, m, i, v) => api.mediaUrl(c, m, i, v));

/** Ask for an upload URL for `file` in a conversation, upload it, and return it as send_message
 * takes it (the name shown is the file's own; the path is the server's). */
export async function uploadAttachment(
  conversationId: string,
  file: File,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<OutgoingAttachment> {
  const contentType = guessContentType(file);
  const signed = await api.uploadUrl(conversationId, file.name || "file", contentType, file.size);
  await uploadToStorage(signed, file, onProgress, signal);
  return { path: signed.path, fileName: file.name || signed.fileName, contentType: signed.contentType, size: file.size };
}
