import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import type { Conversation } from "../lib/types";
import { DEFAULT_CSAT_QUESTION, reminderDue, toSave } from "../lib/workspaceSettings";
import { allListenersOn, docSnapshot, fakeAuth, fakeServer, fakeUser, listenerOn, resetFirebase, type Call } from "../testing/fakeFirebase";
import { useWorkspace } from "./workspace";

const AGENT_API = "http://f.test/agent_api";
initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: AGENT_API, create_app: "c", chat_api: "x" } });

const SAVED = {
  name: "Demo Shop",
  timeZone: "Europe/Paris",
  businessHours: { mon: [["09:00", "17:00"]] },
  autoReply: { enabled: false, text: "" },
};

let workspace: ReturnType<typeof useWorkspace>;
let server: ReturnType<typeof fakeServer>;

beforeEach(() => {
  resetFirebase();
  fakeAuth.currentUser = fakeUser({ uid: "admin-1" });
  server = fakeServer((call: Call) =>
    call.body.settings
      ? { status: 200, body: { settings: call.body.settings } }
      : { status: 200, body: { settings: SAVED } },
  );
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
  workspace = useWorkspace();
});

afterEach(() => vi.unstubAllGlobals());

describe("workspace settings", () => {
  it("loads the settings with every day, edits hours and the auto-reply, and saves them whole", async () => {
    await workspace.load("demo");
    const form = workspace.form!;
    expect(form.businessHours?.tue).toEqual([]);
    workspace.addRange("sat");
    form.businessHours!.sat![0] = ["10:00", "14:00"];
    form.autoReply = { enabled: true, text: "We are closed" };
    form.replyWindowReminderMinutes = 60;
    expect(await workspace.save()).toBe(true);
    expect(server.calls.at(-1)!.body).toEqual({
      action: "workspace_settings",
      settings: {
        name: "Demo Shop",
        timeZone: "Europe/Paris",
        businessHours: { mon: [["09:00", "17:00"]], sat: [["10:00", "14:00"]] },
        autoReply: { enabled: true, text: "We are closed" },
        replyWindowReminderMinutes: 60,
        csat: { enabled: false, question: "How would you rate our help today?" },
      },
    });
    expect(workspace.saved).toBe(true);
  });

  it("refuses what the server would refuse before sending it", async () => {
    await workspace.load("demo");
    const form = workspace.form!;
    form.timeZone = "Mars/Olympus";
    expect(await workspace.save()).toBe(false);
    expect(workspace.error).toContain("not a time zone");
    form.timeZone = "Asia/Tokyo";
    form.businessHours!.mon = [["17:00", "09:00"]];
    expect(await workspace.save()).toBe(false);
    expect(workspace.error).toContain("ends before it starts");
    form.businessHours!.mon = [["09:00", "12:00"], ["11:00", "13:00"]];
    expect(await workspace.save()).toBe(false);
    expect(workspace.error).toContain("overlap");
    form.businessHours!.mon = [["09:00", "24:00"]];
    form.autoReply = { enabled: true, text: " " };
    expect(await workspace.save()).toBe(false);
    expect(workspace.error).toContain("auto-reply");
    expect(server.calls.filter((c) => c.body.settings)).toHaveLength(0);
    workspace.useHours(false);
    form.autoReply.text = "Closed";
    expect(await workspace.save()).toBe(true);
    expect(server.calls.at(-1)!.body.settings.businessHours).toBeUndefined();
  });

  it("turns the satisfaction survey on with its question (off, with the default question, until then)", async () => {
    await workspace.load("demo");
    const form = workspace.form!;
    expect(form.csat).toEqual({ enabled: false, question: DEFAULT_CSAT_QUESTION });
    form.csat = { enabled: true, question: "  How did Cora do?  " };
    expect(await workspace.save()).toBe(true);
    expect(server.calls.at(-1)!.body.settings.csat).toEqual({ enabled: true, question: "How did Cora do?" });
    workspace.form!.csat.question = " ";
    expect(await workspace.save()).toBe(true);
    expect(server.calls.at(-1)!.body.settings.csat).toEqual({ enabled: true, question: DEFAULT_CSAT_QUESTION });
  });

  it("follows the reply-window reminder on the tenant document live", () => {
    workspace.start("t1");
    listenerOn("tenants/t1").next(docSnapshot("t1", { name: "Demo", settings: { replyWindowReminderMinutes: 90 } }));
    expect(workspace.reminder).toBe(90);
    listenerOn("tenants/t1").next(docSnapshot("t1", { name: "Demo", settings: {} }));
    expect(workspace.reminder).toBeNull();
    workspace.stop();
    expect(allListenersOn("tenants/t1").every((l) => !l.active)).toBe(true);
  });
});

describe("the reply-window reminder", () => {
  const now = 1_000_000_000;
  const conversation = (expiresAtMs: number, status = "open") =>
    ({ replyWindow: { expiresAtMs, tagExpiresAtMs: 0, needs: "template" }, status, lastMessage: null }) as unknown as Conversation;

  it("marks a window closing within the reminder, and nothing else", () => {
    expect(reminderDue(conversation(now + 30 * 60_000), 60, now)).toBe(30 * 60_000);
    expect(reminderDue(conversation(now + 90 * 60_000), 60, now)).toBeNull();
    expect(reminderDue(conversation(now - 1), 60, now)).toBeNull();
    expect(reminderDue(conversation(now + 60_000), null, now)).toBeNull();
    expect(reminderDue(conversation(now + 60_000, "resolved"), 60, now)).toBeNull();
  });

  it("leaves unset numbers out of what is saved", () => {
    const csat = { enabled: false, question: "How was it?" };
    const saved = toSave({ name: " A ", timeZone: "UTC", autoReply: { enabled: false, text: "" }, retentionDays: 0, csat });
    expect(saved).toEqual({ name: "A", timeZone: "UTC", autoReply: { enabled: false, text: "" }, csat });
  });
});
