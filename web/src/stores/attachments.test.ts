import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { initFirebase } from "../lib/firebase";
import { fakeAuth, fakeServer, fakeUser, resetFirebase, settle, type Call } from "../testing/fakeFirebase";
import { FakeXhr, resetXhr, respondWith, xhrCalls } from "../testing/fakeUpload";
import { batches, useAttachments } from "./attachments";
import { useThread } from "./thread";

const FUNCTIONS = { send_message: "http://f.test/send_message", agent_api: "http://f.test/agent_api", create_app: "c", chat_api: "x" };
initFirebase({ projectId: "demo", apiKey: "k", functions: FUNCTIONS });

const SIGNED = "http://storage.test/bucket/tenants/t1/uploads/agent-1/u1/photo.jpg?X-Goog-Signature=abc";

let server: ReturnType<typeof fakeServer>;
let sendAnswer: (call: Call) => { status: number; body?: unknown };
let attachments: ReturnType<typeof useAttachments>;
let thread: ReturnType<typeof useThread>;

function file(name: string, type: string, size = 1000): File {
  return new File([new Uint8Array(size)], name, { type });
}

/** agent_api uploadUrl as shared/media/access.py answers it. */
function uploadUrlAnswer(body: { fileName: string; contentType: string; size: number }) {
  const path = `tenants/t1/uploads/agent-1/u-${body.fileName}/${body.fileName.replace(/[^A-Za-z0-9._-]/g, "_")}`;
  return {
    url: SIGNED,
    method: "POST",
    headers: { "x-goog-resumable": "start", "Content-Type": body.contentType, "x-goog-content-length-range": `0,${body.size}` },
    path,
    fileName: path.split("/").pop(),
    contentType: body.contentType,
    size: body.size,
    expiresAt: "2026-12-07T10:15:00Z",
  };
}

beforeEach(() => {
  resetFirebase();
  resetXhr();
  fakeAuth.currentUser = fakeUser({ uid: "agent-1" });
  sendAnswer = () => ({ status: 200, body: { messageId: "m", status: "queued", created: true } });
  server = fakeServer((call) => {
    if (call.url === FUNCTIONS.send_message) return sendAnswer(call);
    if (call.url === FUNCTIONS.agent_api && call.body.action === "uploadUrl") return { status: 200, body: uploadUrlAnswer(call.body) };
    return { status: 200, body: {} };
  });
  vi.stubGlobal("fetch", server.fetch);
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  setActivePinia(createPinia());
  thread = useThread();
  thread.setTenant("t1");
  thread.open("c1");
  attachments = useAttachments();
});

afterEach(() => {
  attachments.reset();
  thread.reset();
});

describe("attaching a file", () => {
  it("asks for a signed upload, starts the resumable session, and uploads the file to it with progress", async () => {
    const progress: number[] = [];
    attachments.add("c1", [file("photo.jpg", "image/jpeg", 4000)]);
    const item = attachments.of("c1")[0];
    expect(item).toMatchObject({ name: "photo.jpg", kind: "image", state: "uploading", progress: 0 });
    const stop = setInterval(() => progress.push(attachments.of("c1")[0]?.progress ?? -1), 0);
    await settle();
    clearInterval(stop);

    const asked = server.callsTo("/agent_api")[0];
    expect(asked.body).toEqual({ action: "uploadUrl", conversationId: "c1", fileName: "photo.jpg", contentType: "image/jpeg", size: 4000 });
    expect(asked.headers.Authorization).toMatch(/^Bearer /);

    const [start, put] = xhrCalls;
    expect(start).toMatchObject({ method: "POST", url: SIGNED, body: "" });
    expect(start.headers).toEqual({ "x-goog-resumable": "start", "Content-Type": "image/jpeg", "x-goog-content-length-range": "0,4000" });
    expect(put.method).toBe("PUT");
    expect(put.url).toContain("upload_id=session-1");
    expect((put.body as Blob).size).toBe(4000);

    expect(attachments.of("c1")[0]).toMatchObject({
      state: "ready",
      progress: 1,
      uploaded: { path: "tenants/t1/uploads/agent-1/u-photo.jpg/photo.jpg", fileName: "photo.jpg", contentType: "image/jpeg", size: 4000 },
    });
  });

  it("reports progress while the file goes up", async () => {
    let held: FakeXhr | null = null;
    respondWith((call) => {
      if (call.method === "POST") call.xhr.answer(201, { Location: "http://storage.test/session" });
      else held = call.xhr;
    });
    attachments.add("c1", [file("clip.mp4", "video/mp4", 10_000)]);
    await settle();
    held!.progress(2_500, 10_000);
    expect(attachments.of("c1")[0].progress).toBe(0.25);
    held!.progress(10_000, 10_000);
    held!.answer(200);
    await settle();
    expect(attachments.of("c1")[0].state).toBe("ready");
  });

  it("keeps each conversation's files apart", async () => {
    attachments.add("c1", [file("a.pdf", "application/pdf")]);
    attachments.add("c2", [file("b.pdf", "application/pdf")]);
    await settle();
    expect(attachments.of("c1").map((a) => a.name)).toEqual(["a.pdf"]);
    expect(attachments.of("c2").map((a) => a.name)).toEqual(["b.pdf"]);
    expect(attachments.of("c1")[0].kind).toBe("document");
  });

  it("takes at most ten files at once and says how many it left out", () => {
    const many = Array.from({ length: 12 }, (_, i) => file(`f${i}.txt`, "text/plain"));
    expect(attachments.add("c1", many)).toBe(2);
    expect(attachments.of("c1")).toHaveLength(10);
  });

  it("shows why an upload failed, and Retry uploads it again", async () => {
    respondWith((call) => call.xhr.answer(403));
    attachments.add("c1", [file("photo.jpg", "image/jpeg")]);
    await settle();
    const failed = attachments.of("c1")[0];
    expect(failed.state).toBe("failed");
    expect(failed.error).toMatch(/expired or was refused/);

    respondWith(null);
    await attachments.retry(failed.id);
    expect(attachments.of("c1")[0].state).toBe("ready");
  });

  it("an upload refused by the server (type or size) is failed with its reason", async () => {
    server.answer((call) =>
      call.body.action === "uploadUrl"
        ? { status: 413, body: { error: { code: "file_too_large", message: "a video may be at most 50 MB" } } }
        : { status: 200, body: {} },
    );
    attachments.add("c1", [file("big.mp4", "video/mp4")]);
    await settle();
    expect(attachments.of("c1")[0]).toMatchObject({ state: "failed", error: "a video may be at most 50 MB" });
    expect(xhrCalls).toHaveLength(0);
  });

  it("removing a file cancels its upload", async () => {
    let held: FakeXhr | null = null;
    respondWith((call) => {
      if (call.method === "POST") call.xhr.answer(201, { Location: "http://storage.test/session" });
      else held = call.xhr;
    });
    attachments.add("c1", [file("clip.mp4", "video/mp4")]);
    await settle();
    const aborted = vi.fn();
    held!.onabort = ((original) => () => {
      aborted();
      original?.();
    })(held!.onabort);
    attachments.remove(attachments.of("c1")[0].id);
    await settle();
    expect(aborted).toHaveBeenCalled();
    expect(attachments.of("c1")).toEqual([]);
  });
});

describe("sending files", () => {
  it("sends up to 10 files as one message where the channel takes them (Twilio), split at 5 MB", async () => {
    const big = 3 * 1024 * 1024;
    attachments.add("c1", [
      file("a.jpg", "image/jpeg", 10),
      file("b.pdf", "application/pdf", 20),
      file("c.jpg", "image/jpeg", big),
      file("d.jpg", "image/jpeg", big),
    ]);
    await settle();
    expect(await attachments.send("c1", "All of them", false, "twilio")).toBe(true);

    const sent = server.callsTo("/send_message").map((call) => call.body.message);
    // a, b and c fit one MMS (under 5 MB together); d would take it over 5 MB: a second message.
    expect(sent.map((message) => message.attachments.map((a: { fileName: string }) => a.fileName))).toEqual([
      ["a.jpg", "b.pdf", "c.jpg"],
      ["d.jpg"],
    ]);
    expect(sent[0]).toMatchObject({ type: "image", caption: "All of them" });
    expect(sent[1].caption).toBeUndefined();
    expect(attachments.of("c1")).toEqual([]);
  });

  it("a refused group keeps every one of its files with the reason", async () => {
    attachments.add("c1", [file("a.jpg", "image/jpeg", 10), file("b.jpg", "image/jpeg", 10)]);
    await settle();
    sendAnswer = () => ({ status: 422, body: { error: { code: "attachments_too_large", message: "Twilio takes up to 5 MB" } } });
    expect(await attachments.send("c1", "", false, "twilio")).toBe(false);
    expect(server.callsTo("/send_message")).toHaveLength(1);
    expect(attachments.of("c1").map((item) => [item.state, item.error])).toEqual([
      ["failed", "Twilio takes up to 5 MB"],
      ["failed", "Twilio takes up to 5 MB"],
    ]);
  });

  it("batches: one file per message unless the channel takes more", () => {
    const sizes = (n: number[]) => n.map((size) => ({ size }));
    expect(batches(sizes([1, 2, 3]), "whatsapp").map((b) => b.length)).toEqual([1, 1, 1]);
    expect(batches(sizes([1, 2, 3])).map((b) => b.length)).toEqual([1, 1, 1]);
    expect(batches(sizes(Array(12).fill(1)), "twilio").map((b) => b.length)).toEqual([10, 2]);
    // A single file over the total still goes (alone): the server says why it cannot.
    expect(batches(sizes([6 * 1024 * 1024, 1]), "twilio").map((b) => b.length)).toEqual([1, 1]);
  });

  it("sends one message per file, the caption with the first, and empties the tray", async () => {
    attachments.add("c1", [file("a.jpg", "image/jpeg", 10), file("b.pdf", "application/pdf", 20)]);
    await settle();
    expect(await attachments.send("c1", "  Here they are ")).toBe(true);

    const sent = server.callsTo("/send_message").map((call) => call.body);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({
      conversationId: "c1",
      message: {
        type: "image",
        caption: "Here they are",
        attachments: [{ path: "tenants/t1/uploads/agent-1/u-a.jpg/a.jpg", fileName: "a.jpg", contentType: "image/jpeg", size: 10 }],
      },
    });
    expect(sent[1].message).toEqual({
      type: "document",
      attachments: [{ path: "tenants/t1/uploads/agent-1/u-b.pdf/b.pdf", fileName: "b.pdf", contentType: "application/pdf", size: 20 }],
    });
    expect(sent[0].clientMessageId).not.toBe(sent[1].clientMessageId);
    expect(attachments.of("c1")).toEqual([]);
    expect(thread.pending.map((p) => p.message.attachments?.[0].fileName)).toEqual(["a.jpg", "b.pdf"]);
  });

  it("a file the provider cannot take stays with the server's reason; the others go, the caption with the next", async () => {
    attachments.add("c1", [file("huge.png", "image/png", 30), file("ok.jpg", "image/jpeg", 10)]);
    await settle();
    sendAnswer = (call) =>
      call.body.message.attachments[0].fileName === "huge.png"
        ? { status: 422, body: { error: { code: "attachment_too_large", message: "WhatsApp takes images up to 5 MB; this one is 6.0 MB." } } }
        : { status: 200, body: { messageId: "m2", status: "queued", created: true } };
    expect(await attachments.send("c1", "Look")).toBe(false);

    const left = attachments.of("c1");
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ name: "huge.png", state: "failed", error: "WhatsApp takes images up to 5 MB; this one is 6.0 MB." });
    const sent = server.callsTo("/send_message").map((call) => call.body.message);
    expect(sent[1]).toMatchObject({ caption: "Look", attachments: [{ fileName: "ok.jpg" }] });
    // The refused one left no pending bubble behind.
    expect(thread.pending.map((p) => p.message.attachments?.[0].fileName)).toEqual(["ok.jpg"]);
  });

  it("a network failure leaves the message pending with Retry, not in the tray", async () => {
    attachments.add("c1", [file("a.jpg", "image/jpeg")]);
    await settle();
    server.answer((call) => (call.url === FUNCTIONS.send_message ? new Error("offline") : { status: 200, body: {} }));
    expect(await attachments.send("c1", "")).toBe(false);
    expect(attachments.of("c1")).toEqual([]);
    expect(thread.pending).toHaveLength(1);
    expect(thread.pending[0].error?.code).toBe("network");
  });

  it("sends nothing that is still uploading", async () => {
    respondWith((call) => call.xhr.hold());
    attachments.add("c1", [file("a.jpg", "image/jpeg")]);
    await settle();
    expect(attachments.uploading("c1")).toBe(true);
    expect(await attachments.send("c1", "x")).toBe(true);
    expect(server.callsTo("/send_message")).toHaveLength(0);
  });
});
