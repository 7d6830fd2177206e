/** The composer's attachments: files the agent picked, dropped or pasted, each uploaded straight to
 * Cloud Storage at once (lib/media.ts, with progress), then sent with the reply, one message per
 * file where the provider takes one file per message, several per message where it takes more
 * (FILES_PER_MESSAGE: Twilio up to 10 files and 5 MB in one MMS); the caption goes with the first. A file the
 * server refuses (too large for this provider, a type it cannot take) stays in the tray with the
 * reason, so the agent sees which one and why; the others are sent. Per conversation: switching
 * keeps each conversation's tray, as drafts do. */
import { defineStore } from "pinia";
import { ref } from "vue";

import { ApiError } from "../lib/api";
import { attachmentType, guessContentType, uploadAttachment, UploadError } from "../lib/media";
import type { ChannelKind, OutgoingAttachment, OutgoingMessage } from "../lib/types";
import { useThread } from "./thread";

/** At most this many files wait in one conversation's tray. */
export const MAX_ATTACHMENTS = 10;

/** Channels whose provider takes several files in one message (shared/channels capabilities'
 * max_attachments / max_total_bytes); every other channel gets one message per file. */
export const FILES_PER_MESSAGE: Partial<Record<ChannelKind, { files: number; bytes: number }>> = {
  twilio: { files: 10, bytes: 5 * 1024 * 1024 },
};

/** The tray's ready files in the messages they go in: in order, as many per message as the
 * channel takes. */
export function batches<T extends { size: number }>(files: T[], channel?: ChannelKind): T[][] {
  const limit = (channel && FILES_PER_MESSAGE[channel]) || { files: 1, bytes: Number.POSITIVE_INFINITY };
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length && (current.length >= limit.files || bytes + file.size > limit.bytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length) out.push(current);
  return out;
}

export type AttachmentState = "uploading" | "ready" | "failed" | "sending";

export interface DraftAttachment {
  id: string;
  conversationId: string;
  name: string;
  size: number;
  contentType: string;
  kind: "image" | "audio" | "video" | "document";
  state: AttachmentState;
  /** 0..1 while uploading. */
  progress: number;
  error: string | null;
  /** What send_message takes, once uploaded. */
  uploaded: OutgoingAttachment | null;
  /** A local preview of a picture (an object URL), revoked when the attachment goes. */
  previewUrl: string | null;
}

type Uploader = typeof uploadAttachment;

function reason(exc: unknown): string {
  if (exc instanceof ApiError || exc instanceof UploadError) return exc.message;
  return "The file could not be uploaded.";
}

export const useAttachments = defineStore("attachments", () => {
  const items = ref<DraftAttachment[]>([]);
  const files = new Map<string, File>();
  const aborts = new Map<string, AbortController>();
  let uploader: Uploader = uploadAttachment;

  /** Tests replace the network half (lib/media.ts's uploadAttachment). */
  function setUploader(next: Uploader | null): void {
    uploader = next ?? uploadAttachment;
  }

  function of(conversationId: string): DraftAttachment[] {
    return items.value.filter((item) => item.conversationId === conversationId);
  }

  function find(id: string): DraftAttachment | undefined {
    return items.value.find((item) => item.id === id);
  }

  async function upload(id: string): Promise<void> {
    const item = find(id);
    const file = files.get(id);
    if (!item || !file) return;
    const abort = new AbortController();
    aborts.set(id, abort);
    item.state = "uploading";
    item.error = null;
    item.progress = 0;
    try {
      const uploaded = await uploader(
        item.conversationId,
        file,
        (fraction) => {
          const current = find(id);
          if (current) current.progress = fraction;
        },
        abort.signal,
      );
      const current = find(id);
      if (current) {
        current.uploaded = uploaded;
        current.state = "ready";
        current.progress = 1;
      }
    } catch (exc) {
      const current = find(id);
      if (current && !abort.signal.aborted) {
        current.state = "failed";
        current.error = reason(exc);
      }
    } finally {
      aborts.delete(id);
    }
  }

  /** Add files to a conversation's tray (picker, drop, paste) and start uploading each; returns
   * how many were refused because the tray is full. */
  function add(conversationId: string, picked: Iterable<File>): number {
    let refused = 0;
    for (const file of picked) {
      if (of(conversationId).length >= MAX_ATTACHMENTS) {
        refused += 1;
        continue;
      }
      const contentType = guessContentType(file);
      const kind = attachmentType(contentType);
      const id = crypto.randomUUID();
      const previewUrl =
        kind === "image" && typeof URL.createObjectURL === "function" ? URL.createObjectURL(file) : null;
      files.set(id, file);
      items.value.push({
        id,
        conversationId,
        name: file.name || "file",
        size: file.size,
        contentType,
        kind,
        state: "uploading",
        progress: 0,
        error: null,
        uploaded: null,
        previewUrl,
      });
      void upload(id);
    }
    return refused;
  }

  /** Remove one (cancelling its upload). */
  function remove(id: string): void {
    const item = find(id);
    aborts.get(id)?.abort();
    if (item?.previewUrl && typeof URL.revokeObjectURL === "function") URL.revokeObjectURL(item.previewUrl);
    files.delete(id);
    items.value = items.value.filter((other) => other.id !== id);
  }

  /** Upload a failed one again. */
  function retry(id: string): Promise<void> {
    return upload(id);
  }

  function uploading(conversationId: string): boolean {
    return of(conversationId).some((item) => item.state === "uploading");
  }

  function ready(conversationId: string): DraftAttachment[] {
    return of(conversationId).filter((item) => item.state === "ready" && item.uploaded);
  }

  /** Send every uploaded file of the conversation, one message each (several per message where
   * the channel takes them: {@link batches}), the caption with the first; a sent file leaves the
   * tray, a refused one stays with the server's reason. True when all went. A transient failure
   * (network) leaves a pending bubble with Retry, as for text. */
  async function send(
    conversationId: string,
    caption: string,
    useHumanAgentTag = false,
    channel?: ChannelKind,
  ): Promise<boolean> {
    const thread = useThread();
    let first = true;
    let allSent = true;
    for (const group of batches(ready(conversationId), channel)) {
      // A mixed group goes as its first picture/audio/video kind: asking for "document" would make
      // every file a document.
      const type = group.find((item) => item.kind !== "document")?.kind ?? "document";
      const message: OutgoingMessage = { type, attachments: group.map((item) => item.uploaded!) };
      if (first && caption.trim()) message.caption = caption.trim();
      for (const item of group) item.state = "sending";
      try {
        await thread.send(message, useHumanAgentTag);
        for (const item of group) remove(item.id);
        first = false;
      } catch (exc) {
        allSent = false;
        const refused = exc instanceof ApiError && exc.httpStatus >= 400 && exc.httpStatus < 500;
        for (const item of group) {
          const current = find(item.id);
          if (!current) continue;
          if (refused) {
            current.state = "failed";
            current.error = exc.message;
            current.uploaded = current.uploaded && exc.code.startsWith("attachment_missing") ? null : current.uploaded;
          } else {
            remove(item.id); // on its way: the pending bubble keeps it, with Retry
          }
        }
        if (!refused) first = false;
      }
    }
    return allSent;
  }

  /** Forget everything (the agent signs out). */
  function reset(): void {
    for (const item of [...items.value]) remove(item.id);
  }

  return { items, of, add, remove, retry, uploading, ready, send, reset, setUploader };
});
