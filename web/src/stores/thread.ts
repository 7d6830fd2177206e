/** The open conversation: its document and its latest messages (100, and 100 more per "Load earlier
 * messages"), both live; the agent's messages
 * that are still on their way (optimistic bubbles); and the actions on it (send, assign, status,
 * mark read), all through the HTTPS functions. */
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import {
  collection,
  doc,
  limit,
  onSnapshot,
  orderBy,
  query,
  type Unsubscribe,
} from "firebase/firestore";

import { api, ApiError, isRefusal } from "../lib/api";
import { db } from "../lib/firebase";
import {
  toConversation,
  toMessage,
  type Conversation,
  type ConversationStatus,
  type Message,
  type OutgoingMessage,
  type PendingMessage,
} from "../lib/types";
import { useNotices } from "./notices";

export const MESSAGE_PAGE = 100;
/** Opening a search result older than what is loaded loads earlier pages until it shows, at most this many. */
export const REVEAL_PAGES = 20;
// While a conversation is open, new customer messages are marked read at most this often: each
// mark_read writes the conversation document, which ingest is writing too (Firestore sustains
// about one write per second per document; measured here, marking every 0.6 s while a customer
// wrote 5 messages/s tripled ingest's latency). The open conversation's row hides its badge meanwhile.
const MARK_READ_INTERVAL_MS = 4000;

export const useThread = defineStore("thread", () => {
  const conversationId = ref<string | null>(null);
  const conversation = ref<Conversation | null>(null);
  const missing = ref(false);
  const messages = ref<Message[]>([]);
  const messagesLoaded = ref(false);
  const truncated = ref(false);
  const messageLimit = ref(MESSAGE_PAGE);
  const loadingEarlier = ref(false);
  const pending = ref<PendingMessage[]>([]);
  /** The message a search or timeline result opened the conversation at (shown and highlighted). */
  const target = ref<string | null>(null);
  let revealPages = 0;
  /** Unsent text per conversation: switching conversations keeps each one's draft. */
  const drafts = new Map<string, string>();
  const notices = useNotices();

  let tenantId = "";
  let stops: Unsubscribe[] = [];
  let stopMessages: Unsubscribe | null = null;
  let cache = new Map<string, Message>();
  let markReadTimer: number | undefined;
  let lastMarkedAt = 0;

  /** Pending bubbles of this conversation the live list does not show yet. */
  const pendingHere = computed(() => pending.value.filter((p) => p.conversationId === conversationId.value));

  function setTenant(tenant: string): void {
    tenantId = tenant;
  }

  // Back to the tab with unread messages in the open conversation: they are read now.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && conversation.value && conversation.value.unreadCount > 0) {
      scheduleMarkRead();
    }
  });

  function open(id: string | null): void {
    if (id === conversationId.value) return;
    close();
    if (!id) return;
    conversationId.value = id;
    // Opening marks the conversation read as soon as its document shows unread messages (at once:
    // the throttle restarts with each conversation); nothing is written when there are none.
    lastMarkedAt = 0;
    cache = new Map<string, Message>();
    messageLimit.value = MESSAGE_PAGE;
    const conversationRef = doc(db(), "tenants", tenantId, "conversations", id);
    stops.push(
      onSnapshot(
        conversationRef,
        (snapshot) => {
          if (!snapshot.exists()) {
            missing.value = true;
            conversation.value = null;
            return;
          }
          missing.value = false;
          conversation.value = toConversation(snapshot);
          // Opened, or a customer message arrived while the agent looks at it: it is read.
          if (conversation.value.unreadCount > 0 && document.visibilityState === "visible") {
            scheduleMarkRead();
          }
        },
        (exc) => notices.error(`This conversation could not be loaded (${exc.code}).`),
      ),
    );
    listenToMessages(id);
  }

  /** The messages listener for the current limit; replacing it re-sends only what changed (the
   * SDK's cache holds the documents already seen). */
  function listenToMessages(id: string): void {
    stopMessages?.();
    const wanted = messageLimit.value;
    const messagesRef = collection(db(), "tenants", tenantId, "conversations", id, "messages");
    stopMessages = onSnapshot(
      query(messagesRef, orderBy("sentAt", "desc"), limit(wanted)),
      (snapshot) => {
        // Only added or changed documents are converted again; the others keep their object, so
        // Vue re-renders only the bubbles that changed (a busy thread changes one at a time).
        for (const change of snapshot.docChanges()) {
          if (change.type === "removed") cache.delete(change.doc.id);
          else cache.set(change.doc.id, toMessage(change.doc));
        }
        const list = snapshot.docs.map((d) => cache.get(d.id) ?? toMessage(d)).reverse();
        messages.value = list;
        messagesLoaded.value = true;
        truncated.value = snapshot.size >= wanted;
        loadingEarlier.value = false;
        seekTarget();
        const landed = new Set(list.map((m) => m.clientMessageId).filter(Boolean));
        if (pending.value.some((p) => landed.has(p.clientMessageId))) {
          pending.value = pending.value.filter((p) => !landed.has(p.clientMessageId));
        }
      },
      (exc) => {
        loadingEarlier.value = false;
        notices.error(`Messages could not be loaded (${exc.code}).`);
      },
    );
  }

  /** Open a conversation at one of its messages: earlier pages load until it is there. */
  function reveal(id: string, messageId: string): void {
    open(id);
    target.value = messageId;
    revealPages = 0;
    seekTarget();
  }

  function seekTarget(): void {
    const wanted = target.value;
    if (!wanted || !messagesLoaded.value || messages.value.some((m) => m.id === wanted)) return;
    if (truncated.value && !loadingEarlier.value && revealPages < REVEAL_PAGES) {
      revealPages++;
      loadEarlier();
    }
  }

  /** 100 more of the conversation's history, above what is shown. */
  function loadEarlier(): void {
    const id = conversationId.value;
    if (!id || !truncated.value || loadingEarlier.value) return;
    loadingEarlier.value = true;
    messageLimit.value += MESSAGE_PAGE;
    listenToMessages(id);
  }

  function close(): void {
    stops.forEach((unsubscribe) => unsubscribe());
    stops = [];
    stopMessages?.();
    stopMessages = null;
    loadingEarlier.value = false;
    window.clearTimeout(markReadTimer);
    markReadTimer = undefined;
    conversationId.value = null;
    conversation.value = null;
    target.value = null;
    missing.value = false;
    messages.value = [];
    messagesLoaded.value = false;
    truncated.value = false;
  }

  function markRead(): void {
    const id = conversationId.value;
    if (!id) return;
    lastMarkedAt = Date.now();
    api.markRead(id).catch((exc: unknown) => {
      if (exc instanceof ApiError && exc.code === "conversation_not_found") return;
      console.warn("mark_read failed", exc);
    });
  }

  function scheduleMarkRead(): void {
    if (markReadTimer !== undefined) return; // one is already due: throttle, never postpone
    const wait = Math.max(0, MARK_READ_INTERVAL_MS - (Date.now() - lastMarkedAt));
    markReadTimer = window.setTimeout(() => {
      markReadTimer = undefined;
      if (conversation.value && conversation.value.unreadCount > 0) markRead();
    }, wait);
  }

  async function deliver(item: PendingMessage): Promise<void> {
    item.sending = true;
    item.error = null;
    try {
      await api.sendMessage({
        conversationId: item.conversationId,
        clientMessageId: item.clientMessageId,
        message: item.message,
        ...(item.useHumanAgentTag ? { useHumanAgentTag: true } : {}),
      });
    } catch (exc) {
      const error =
        exc instanceof ApiError
          ? { code: exc.code, message: exc.message }
          : { code: "unknown", message: "The message could not be sent." };
      // The same object, found again: the array may have been replaced while we waited.
      const current = pending.value.find((p) => p.clientMessageId === item.clientMessageId);
      if (current) current.error = error;
      throw exc;
    } finally {
      const current = pending.value.find((p) => p.clientMessageId === item.clientMessageId);
      if (current) current.sending = false;
    }
  }

  /** Send (or note) in the open conversation: a pending bubble at once, replaced by the live message
   * when it lands. A refusal (window closed, invalid) removes the bubble and throws, so the composer
   * gives the draft back and explains; a transient failure keeps the bubble with Retry. */
  async function send(message: OutgoingMessage, useHumanAgentTag = false): Promise<void> {
    const id = conversationId.value;
    if (!id) return;
    const item: PendingMessage = {
      clientMessageId: crypto.randomUUID(),
      conversationId: id,
      message,
      useHumanAgentTag,
      createdAtMs: Date.now(),
      error: null,
      sending: true,
    };
    pending.value.push(item);
    try {
      await deliver(pending.value[pending.value.length - 1]);
    } catch (exc) {
      if (isRefusal(exc)) discard(item.clientMessageId);
      throw exc;
    }
  }

  /** Retry a refused or failed send with the SAME client message id: the server deduplicates. */
  async function retry(clientMessageId: string): Promise<void> {
    const item = pending.value.find((p) => p.clientMessageId === clientMessageId);
    if (item) await deliver(item).catch(() => undefined);
  }

  function discard(clientMessageId: string): void {
    pending.value = pending.value.filter((p) => p.clientMessageId !== clientMessageId);
  }

  async function act(what: string, action: () => Promise<unknown>): Promise<void> {
    notices.clearErrors(); // an earlier failure is not news once the agent does something else
    try {
      await action();
    } catch (exc) {
      notices.error(`${what} failed: ${exc instanceof Error ? exc.message : String(exc)}`);
    }
  }

  function assign(assigneeId: string | null): Promise<void> {
    const id = conversationId.value;
    if (!id) return Promise.resolve();
    return act("Assigning", () => api.assign(id, assigneeId));
  }

  function setStatus(status: ConversationStatus, snoozeUntilMs?: number): Promise<void> {
    const id = conversationId.value;
    if (!id) return Promise.resolve();
    return act("Changing the status", () => api.setStatus(id, status, snoozeUntilMs));
  }

  /** Add and remove labels on the open conversation (ArrayUnion/ArrayRemove on the server: another
   * agent's change at the same moment is kept). */
  function setLabels(add: string[], remove: string[] = []): Promise<void> {
    const id = conversationId.value;
    if (!id || (!add.length && !remove.length)) return Promise.resolve();
    return act("Changing the labels", () => api.setLabels(id, add, remove));
  }

  /** Forget everything of the agent who is signing out. */
  function reset(): void {
    close();
    pending.value = [];
    drafts.clear();
  }

  return {
    conversationId,
    conversation,
    missing,
    messages,
    messagesLoaded,
    loadingEarlier,
    loadEarlier,
    target,
    reveal,
    truncated,
    pending,
    pendingHere,
    drafts,
    reset,
    setTenant,
    open,
    close,
    send,
    retry,
    discard,
    assign,
    setStatus,
    setLabels,
  };
});
