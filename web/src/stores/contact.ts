/** The open conversation's customer, across channels (issue 17 part 8), all listened to live:
 *
 * - the conversation's contact (tenants/{t}/contacts/{id}): one identity on one channel, with the
 *   name and picture the provider's profile API gave (`profile`);
 * - the person it belongs to: with `personId`, every identity carrying the same `personId` (one
 *   query); without, the contact alone;
 * - the person's conversations on every channel (one query: kind == "support", contactId in the
 *   identities; at most 30, the server caps a person at 30 identities);
 * - the notes about the customer (contacts/{id}/notes of each identity, newest first);
 * - the tenant's custom attribute definitions (contactAttributes) and the person's values: the
 *   root identity's, falling back to another identity's for a key the root lacks.
 *
 * Changes go through agent_api: merge another contact into this customer, split an identity off,
 * add or delete a note, fill an attribute. The listeners show the result. */
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { collection, doc, onSnapshot, query, where, type DocumentData, type Unsubscribe } from "firebase/firestore";

import { api } from "../lib/api";
import { db } from "../lib/firebase";
import { toConversation, type ChannelKind, type Conversation } from "../lib/types";
import { useNotices } from "./notices";

export type AttributeType = "text" | "number" | "boolean" | "date";
export type AttributeValue = string | number | boolean | null;

export interface ContactProfile {
  name: string | null;
  pictureUrl: string | null;
  username: string | null;
  fetchedAtMs: number | null;
  error: string | null;
}

export interface ContactIdentity {
  id: string;
  channel: ChannelKind;
  channelId: string;
  externalId: string;
  name: string;
  handle: string | null;
  personId: string | null;
  profile: ContactProfile | null;
  attributes: Record<string, AttributeValue>;
}

export interface ContactNote {
  id: string;
  contactId: string;
  text: string;
  authorId: string;
  authorName: string;
  createdAtMs: number;
}

export interface AttributeDefinition {
  key: string;
  label: string;
  type: AttributeType;
}

function toProfile(value: unknown): ContactProfile | null {
  if (!value || typeof value !== "object") return null;
  const p = value as DocumentData;
  return {
    name: typeof p.name === "string" && p.name ? p.name : null,
    pictureUrl: typeof p.pictureUrl === "string" && p.pictureUrl ? p.pictureUrl : null,
    username: typeof p.username === "string" && p.username ? p.username : null,
    fetchedAtMs: typeof p.fetchedAtMs === "number" ? p.fetchedAtMs : null,
    error: typeof p.error === "string" ? p.error : null,
  };
}

export function toIdentity(id: string, d: DocumentData): ContactIdentity {
  const profile = toProfile(d.profile);
  const externalId = String(d.externalId ?? "");
  return {
    id,
    channel: (d.channel ?? "app") as ChannelKind,
    channelId: String(d.channelId ?? ""),
    externalId,
    // The channel's own name first (WhatsApp, Telegram), else the profile API's (Messenger, Instagram).
    name: String(d.name || profile?.name || d.handle || externalId || "Unknown contact"),
    handle: typeof d.handle === "string" && d.handle ? d.handle : null,
    personId: typeof d.personId === "string" && d.personId ? d.personId : null,
    profile,
    attributes: d.attributes && typeof d.attributes === "object" ? { ...(d.attributes as Record<string, AttributeValue>) } : {},
  };
}

export const useContact = defineStore("contact", () => {
  const tenantId = ref("");
  const contactId = ref<string | null>(null);
  const contact = ref<ContactIdentity | null>(null);
  const members = ref<ContactIdentity[]>([]);
  const conversations = ref<Conversation[]>([]);
  const notesByContact = ref(new Map<string, ContactNote[]>());
  const definitions = ref<AttributeDefinition[]>([]);
  const busy = ref(false);
  const notices = useNotices();

  let stopContact: Unsubscribe | null = null;
  let stopMembers: Unsubscribe | null = null;
  let stopConversations: Unsubscribe | null = null;
  let stopDefinitions: Unsubscribe | null = null;
  const stopNotes = new Map<string, Unsubscribe>();
  let watchedPerson: string | null = null;
  let watchedIds = "";

  /** Every identity of the customer (the contact alone when it is merged with nothing). */
  const identities = computed<ContactIdentity[]>(() => {
    const c = contact.value;
    if (!c) return [];
    if (!c.personId) return [c];
    const found = new Map(members.value.map((m) => [m.id, m]));
    found.set(c.id, c);
    return [...found.values()].sort((a, b) => (a.id === c.personId ? -1 : b.id === c.personId ? 1 : a.id.localeCompare(b.id)));
  });
  const personId = computed(() => contact.value?.personId ?? contact.value?.id ?? null);
  const merged = computed(() => identities.value.length > 1);
  /** The name and picture to show: the root identity's, else the first identity that has one. */
  const name = computed(() => identities.value[0]?.name ?? "");
  const pictureUrl = computed(() => identities.value.find((i) => i.profile?.pictureUrl)?.profile?.pictureUrl ?? null);
  const notes = computed(() =>
    identities.value.flatMap((i) => notesByContact.value.get(i.id) ?? []).sort((a, b) => b.createdAtMs - a.createdAtMs),
  );
  /** The person's values: the root's, falling back to another identity's. */
  const attributes = computed<Record<string, AttributeValue>>(() => {
    const values: Record<string, AttributeValue> = {};
    for (const identity of [...identities.value].reverse()) Object.assign(values, identity.attributes);
    return values;
  });

  function start(tenant: string): void {
    tenantId.value = tenant;
    stopDefinitions?.();
    stopDefinitions = onSnapshot(
      collection(db(), "tenants", tenant, "contactAttributes"),
      (snapshot) => {
        definitions.value = snapshot.docs
          .map((d) => ({ key: d.id, label: String(d.data().label ?? d.id), type: (d.data().type ?? "text") as AttributeType }))
          .sort((a, b) => a.label.localeCompare(b.label));
      },
      () => (definitions.value = []),
    );
    // A contact asked for before the tenant was known: listen to it now.
    const pending = contactId.value;
    contactId.value = null;
    open(pending);
  }

  function stopPerson(): void {
    stopMembers?.();
    stopMembers = null;
    stopConversations?.();
    stopConversations = null;
    stopNotes.forEach((unsubscribe) => unsubscribe());
    stopNotes.clear();
    members.value = [];
    conversations.value = [];
    notesByContact.value = new Map();
    watchedPerson = null;
    watchedIds = "";
  }

  /** Follow the identities' conversations and notes when the set of identities changes. */
  function follow(): void {
    const ids = identities.value.map((i) => i.id);
    const key = [...ids].sort().join(",");
    if (key === watchedIds) return;
    watchedIds = key;
    stopConversations?.();
    stopConversations = ids.length
      ? onSnapshot(
          query(collection(db(), "tenants", tenantId.value, "conversations"), where("kind", "==", "support"), where("contactId", "in", ids.slice(0, 30))),
          (snapshot) => {
            conversations.value = snapshot.docs.map(toConversation).sort((a, b) => b.lastActivityAtMs - a.lastActivityAtMs);
          },
          () => (conversations.value = []),
        )
      : null;
    for (const [id, unsubscribe] of stopNotes) {
      if (!ids.includes(id)) {
        unsubscribe();
        stopNotes.delete(id);
        const next = new Map(notesByContact.value);
        next.delete(id);
        notesByContact.value = next;
      }
    }
    for (const id of ids) {
      if (stopNotes.has(id)) continue;
      stopNotes.set(
        id,
        onSnapshot(
          collection(db(), "tenants", tenantId.value, "contacts", id, "notes"),
          (snapshot) => {
            const next = new Map(notesByContact.value);
            next.set(
              id,
              snapshot.docs.map((d) => ({
                id: d.id,
                contactId: id,
                text: String(d.data().text ?? ""),
                authorId: String(d.data().authorId ?? ""),
                authorName: String(d.data().authorName ?? "An agent"),
                createdAtMs: Number(d.data().createdAtMs ?? 0),
              })),
            );
            notesByContact.value = next;
          },
          () => undefined,
        ),
      );
    }
  }

  function watchPerson(): void {
    const person = contact.value?.personId ?? null;
    if (person !== watchedPerson) {
      watchedPerson = person;
      stopMembers?.();
      stopMembers = null;
      members.value = [];
      if (person) {
        stopMembers = onSnapshot(
          query(collection(db(), "tenants", tenantId.value, "contacts"), where("personId", "==", person)),
          (snapshot) => {
            members.value = snapshot.docs.map((d) => toIdentity(d.id, d.data()));
            follow();
          },
          () => (members.value = []),
        );
      }
    }
    follow();
  }

  /** Show the customer behind `id` (a conversation's contactId); null shows nothing. */
  function open(id: string | null): void {
    if (id === contactId.value) return;
    stopContact?.();
    stopContact = null;
    stopPerson();
    contact.value = null;
    contactId.value = id;
    if (!id || !tenantId.value) return;
    stopContact = onSnapshot(
      doc(db(), "tenants", tenantId.value, "contacts", id),
      (snapshot) => {
        contact.value = snapshot.exists() ? toIdentity(snapshot.id, snapshot.data() ?? {}) : null;
        watchPerson();
      },
      () => (contact.value = null),
    );
  }

  function stop(): void {
    open(null);
    stopDefinitions?.();
    stopDefinitions = null;
    definitions.value = [];
    tenantId.value = "";
  }

  async function guarded<T>(what: string, action: () => Promise<T>): Promise<T | null> {
    notices.clearErrors();
    busy.value = true;
    try {
      return await action();
    } catch (exc) {
      notices.error(`${what} failed: ${exc instanceof Error ? exc.message : String(exc)}`);
      return null;
    } finally {
      busy.value = false;
    }
  }

  /** Merge another contact (and its person) into this customer. */
  const mergeIn = (otherContactId: string) =>
    contactId.value ? guarded("Merging the contacts", () => api.mergeContacts(otherContactId, contactId.value as string)) : Promise.resolve(null);
  /** Take one identity out of this customer again. */
  const split = (identityId: string) => guarded("Splitting the contact", () => api.splitContact(identityId));
  const addNote = (text: string) =>
    contactId.value && text.trim() ? guarded("Saving the note", () => api.addContactNote(contactId.value as string, text.trim())) : Promise.resolve(null);
  const deleteNote = (note: ContactNote) => guarded("Deleting the note", () => api.deleteContactNote(note.contactId, note.id));
  const setAttribute = (key: string, value: AttributeValue) =>
    contactId.value ? guarded("Saving the attribute", () => api.setContactAttributes(contactId.value as string, { [key]: value })) : Promise.resolve(null);
  const defineAttribute = (key: string, label: string, type: AttributeType) =>
    guarded("Saving the attribute", () => api.defineContactAttribute(key, label, type));
  const deleteAttribute = (key: string) => guarded("Deleting the attribute", () => api.deleteContactAttribute(key));

  return {
    contactId,
    contact,
    identities,
    personId,
    merged,
    name,
    pictureUrl,
    conversations,
    notes,
    definitions,
    attributes,
    busy,
    start,
    open,
    stop,
    mergeIn,
    split,
    addNote,
    deleteNote,
    setAttribute,
    defineAttribute,
    deleteAttribute,
  };
});
