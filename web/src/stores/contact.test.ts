import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { allListenersOn, constraint, docSnapshot, fakeAuth, fakeServer, fakeUser, listenerOn, listenersOn, querySnapshot, resetFirebase } from "../testing/fakeFirebase";
import { useContact } from "./contact";
import { useNotices } from "./notices";

const AGENT_API = "http://f.test/agent_api";
initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: AGENT_API, create_app: "c", chat_api: "x" } });

let contact: ReturnType<typeof useContact>;
let server: ReturnType<typeof fakeServer>;

const WA = { channel: "whatsapp", channelId: "whatsapp-main", externalId: "15550001", name: "Kerry Fisher" };
const FB = {
  channel: "messenger",
  channelId: "messenger-main",
  externalId: "6100000000000001",
  profile: { name: "Peter Chang", pictureUrl: "https://cdn.test/p.png", fetchedAtMs: 1 },
};

beforeEach(() => {
  resetFirebase();
  fakeAuth.currentUser = fakeUser({ uid: "dana" });
  server = fakeServer(() => ({ status: 200, body: {} }));
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
  contact = useContact();
});

afterEach(() => vi.unstubAllGlobals());

describe("the contact panel's store", () => {
  it("shows a contact alone with its profile name and picture, its conversation and notes", () => {
    contact.start("t1");
    contact.open("fb");
    listenerOn("tenants/t1/contacts/fb").next(docSnapshot("fb", FB));
    expect(contact.name).toBe("Peter Chang");
    expect(contact.pictureUrl).toBe("https://cdn.test/p.png");
    expect(contact.identities.map((i) => i.id)).toEqual(["fb"]);
    expect(contact.merged).toBe(false);
    // No personId: no query for the person's identities.
    expect(listenersOn("tenants/t1/contacts")).toEqual([]);
    const conversations = listenerOn("tenants/t1/conversations");
    expect(constraint(conversations, "where", "kind")?.value).toBe("support");
    expect(constraint(conversations, "where", "contactId")).toMatchObject({ op: "in", value: ["fb"] });
    listenerOn("tenants/t1/contacts/fb/notes").next(
      querySnapshot([
        docSnapshot("n1", { text: "older", authorId: "sam", authorName: "Sam", createdAtMs: 1 }),
        docSnapshot("n2", { text: "newer", authorId: "dana", authorName: "Dana", createdAtMs: 2 }),
      ]),
    );
    expect(contact.notes.map((n) => n.text)).toEqual(["newer", "older"]);
  });

  it("follows a merged person's identities, conversations on every channel, notes and attributes", () => {
    contact.start("t1");
    contact.open("fb");
    listenerOn("tenants/t1/contacts/fb").next(docSnapshot("fb", { ...FB, personId: "wa", attributes: { plan: "Silver", seats: 3 } }));
    const people = listenerOn("tenants/t1/contacts");
    expect(constraint(people, "where", "personId")?.value).toBe("wa");
    people.next(
      querySnapshot([
        docSnapshot("wa", { ...WA, personId: "wa", attributes: { plan: "Gold" } }),
        docSnapshot("fb", { ...FB, personId: "wa", attributes: { plan: "Silver", seats: 3 } }),
      ]),
    );
    // The root identity first; its name; its values win, the others fill the gaps.
    expect(contact.identities.map((i) => i.id)).toEqual(["wa", "fb"]);
    expect(contact.name).toBe("Kerry Fisher");
    expect(contact.pictureUrl).toBe("https://cdn.test/p.png");
    expect(contact.attributes).toEqual({ plan: "Gold", seats: 3 });
    expect(contact.merged).toBe(true);
    const conversations = listenerOn("tenants/t1/conversations");
    expect(constraint(conversations, "where", "contactId")?.value).toEqual(["wa", "fb"]);
    conversations.next(
      querySnapshot([
        docSnapshot("c-fb", { channel: "messenger", contactId: "fb", lastActivityAtMs: 1 }),
        docSnapshot("c-wa", { channel: "whatsapp", contactId: "wa", lastActivityAtMs: 2 }),
      ]),
    );
    expect(contact.conversations.map((c) => c.id)).toEqual(["c-wa", "c-fb"]);
    listenerOn("tenants/t1/contacts/wa/notes").next(querySnapshot([docSnapshot("n", { text: "from WhatsApp", createdAtMs: 5 })]));
    expect(contact.notes.map((n) => [n.contactId, n.text])).toEqual([["wa", "from WhatsApp"]]);

    // Split again: the person's query and the other identity's notes stop.
    listenerOn("tenants/t1/contacts/fb").next(docSnapshot("fb", FB));
    expect(listenersOn("tenants/t1/contacts")).toEqual([]);
    expect(listenersOn("tenants/t1/contacts/wa/notes")).toEqual([]);
    expect(contact.identities.map((i) => i.id)).toEqual(["fb"]);
  });

  it("a contact opened before the tenant is known is listened to once it is, and stop ends every listener", () => {
    contact.open("fb");
    expect(listenersOn("tenants/t1/contacts/fb")).toEqual([]);
    contact.start("t1");
    listenerOn("tenants/t1/contacts/fb").next(docSnapshot("fb", FB));
    listenerOn("tenants/t1/contactAttributes").next(
      querySnapshot([docSnapshot("seats", { label: "Seats", type: "number" }), docSnapshot("plan", { label: "Plan", type: "text" })]),
    );
    expect(contact.definitions.map((d) => d.key)).toEqual(["plan", "seats"]);
    contact.stop();
    expect(allListenersOn("tenants/t1/contacts/fb").every((l) => !l.active)).toBe(true);
    expect(allListenersOn("tenants/t1/contactAttributes").every((l) => !l.active)).toBe(true);
    expect(allListenersOn("tenants/t1/conversations").every((l) => !l.active)).toBe(true);
  });

  it("merges, splits, notes and fills attributes through agent_api", async () => {
    contact.start("t1");
    contact.open("fb");
    await contact.mergeIn("wa");
    await contact.split("wa");
    await contact.addNote("  Prefers e-mail ");
    await contact.addNote("   ");
    await contact.setAttribute("vip", true);
    await contact.deleteNote({ id: "n1", contactId: "wa", text: "", authorId: "dana", authorName: "Dana", createdAtMs: 0 });
    await contact.defineAttribute("plan", "Plan", "text");
    await contact.deleteAttribute("plan");
    expect(server.calls.map((call) => call.body)).toEqual([
      { action: "contact_merge", contactId: "wa", intoContactId: "fb" },
      { action: "contact_split", contactId: "wa" },
      { action: "contact_note_add", contactId: "fb", text: "Prefers e-mail" },
      { action: "contact_attributes_set", contactId: "fb", values: { vip: true } },
      { action: "contact_note_delete", contactId: "wa", noteId: "n1" },
      { action: "contact_attribute_define", key: "plan", label: "Plan", type: "text" },
      { action: "contact_attribute_delete", key: "plan" },
    ]);
  });

  it("a refusal becomes a notice", async () => {
    contact.start("t1");
    contact.open("fb");
    server.answer(() => ({ status: 409, body: { error: { code: "already_merged", message: "these contacts are already the same customer" } } }));
    expect(await contact.mergeIn("wa")).toBeNull();
    expect(useNotices().items.map((n) => n.text)).toEqual(["Merging the contacts failed: these contacts are already the same customer"]);
    expect(contact.busy).toBe(false);
  });
});
