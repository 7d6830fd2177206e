import { describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import { attachmentType, createSignedUrls, formatBytes, formatDuration, guessContentType, kindOf, mediaEntries, type SignedMedia } from "./media";

describe("content.media as the dashboard reads it", () => {
  it("takes a list, a single object or nothing, and keeps each file's index", () => {
    const entries = mediaEntries({
      media: [
        { state: "stored", path: "tenants/t/x.jpg", contentType: "image/jpeg", size: 2048, fileName: "x.jpg", width: 800, height: 600, thumbnailPath: "tenants/t/x.jpg.thumb.jpg" },
        "junk",
        { state: "failed", reason: "the provider says the media expired (404)" },
        { state: "weird" },
      ],
    });
    expect(entries.map((e) => [e.index, e.state])).toEqual([
      [0, "stored"],
      [2, "failed"],
      [3, "pending"],
    ]);
    expect(entries[0]).toMatchObject({ contentType: "image/jpeg", size: 2048, width: 800, hasThumbnail: true });
    expect(entries[1].reason).toBe("the provider says the media expired (404)");
    expect(mediaEntries({ media: { state: "pending" } })).toHaveLength(1);
    expect(mediaEntries({ text: "hi" })).toEqual([]);
    expect(mediaEntries(null)).toEqual([]);
  });

  it("shows pictures, sounds and films by their sniffed type, stickers small, and the rest as documents", () => {
    expect(kindOf({ contentType: "image/png" }, "image")).toBe("image");
    expect(kindOf({ contentType: "image/webp" }, "sticker")).toBe("sticker");
    expect(kindOf({ contentType: "audio/ogg" }, "audio")).toBe("audio");
    expect(kindOf({ contentType: "video/mp4" }, "document")).toBe("video");
    expect(kindOf({ contentType: "application/pdf" }, "image")).toBe("document");
    // Never rendered, whatever the message claims: downloaded as a file.
    expect(kindOf({ contentType: "image/svg+xml" }, "image")).toBe("document");
    expect(kindOf({ contentType: "application/octet-stream" }, "image")).toBe("document");
    // Still downloading: the message type decides until the type is known.
    expect(kindOf({ contentType: null }, "image")).toBe("image");
    expect(kindOf({ contentType: null }, "document")).toBe("document");
  });

  it("writes sizes and durations for people", () => {
    expect(formatBytes(820)).toBe("820 B");
    expect(formatBytes(14_000)).toBe("14 KB");
    expect(formatBytes(3.4 * 1024 * 1024)).toBe("3.4 MB");
    expect(formatBytes(100 * 1024 * 1024)).toBe("100 MB");
    expect(formatBytes(null)).toBe("");
    expect(formatDuration(7)).toBe("0:07");
    expect(formatDuration(750)).toBe("12:30");
  });

  it("names what a picked file becomes, guessing a type the browser left empty", () => {
    expect(attachmentType("image/jpeg")).toBe("image");
    expect(attachmentType("image/svg+xml")).toBe("document");
    expect(attachmentType("audio/ogg")).toBe("audio");
    expect(attachmentType("application/pdf")).toBe("document");
    expect(guessContentType({ name: "Scan.PDF", type: "" })).toBe("application/pdf");
    expect(guessContentType({ name: "noext", type: "" })).toBe("application/octet-stream");
    expect(guessContentType({ name: "a.png", type: "image/png" })).toBe("image/png");
  });
});

describe("signed URLs", () => {
  function signedAt(now: { t: number }, url: string, lifetimeMs = 300_000): SignedMedia {
    return { url, expiresAt: new Date(now.t + lifetimeMs).toISOString(), contentType: "image/jpeg", variant: "thumbnail" };
  }

  it("asks once per file while the URL is fresh, even when many ask at once", async () => {
    const now = { t: Date.parse("2026-12-07T10:00:00Z") };
    let n = 0;
    const fetcher = vi.fn(async () => signedAt(now, `https://storage.test/x?sig=${++n}`));
    const urls = createSignedUrls(fetcher, () => now.t);

    const [a, b] = await Promise.all([urls.get("c1", "m1", 0, "thumbnail"), urls.get("c1", "m1", 0, "thumbnail")]);
    expect(a).toBe("https://storage.test/x?sig=1");
    expect(b).toBe(a);
    expect(await urls.get("c1", "m1", 0, "thumbnail")).toBe(a);
    expect(fetcher).toHaveBeenCalledTimes(1);

    // Another variant or file is another URL.
    await urls.get("c1", "m1", 0, "original");
    await urls.get("c1", "m1", 1, "thumbnail");
    expect(fetcher).toHaveBeenCalledTimes(3);
  });

  it("signs again shortly before a URL expires, and after one stopped working", async () => {
    const now = { t: 0 };
    let n = 0;
    const fetcher = vi.fn(async () => signedAt(now, `u${++n}`));
    const urls = createSignedUrls(fetcher, () => now.t);
    expect(await urls.get("c", "m", 0, "original")).toBe("u1");
    now.t += 3 * 60_000;
    expect(await urls.get("c", "m", 0, "original")).toBe("u1");
    now.t += 90_000; // 30 s left: too little for a video still loading
    expect(await urls.get("c", "m", 0, "original")).toBe("u2");
    urls.forget("c", "m", 0, "original");
    expect(await urls.get("c", "m", 0, "original")).toBe("u3");
  });

  it("does not remember a refusal: the next ask tries again", async () => {
    const fetcher = vi
      .fn<(...args: unknown[]) => Promise<SignedMedia>>()
      .mockRejectedValueOnce(new Error("media_not_ready"))
      .mockResolvedValueOnce({ url: "ok", expiresAt: new Date(Date.now() + 300_000).toISOString(), contentType: "x", variant: "original" });
    const urls = createSignedUrls(fetcher);
    await expect(urls.get("c", "m", 0, "original")).rejects.toThrow("media_not_ready");
    expect(await urls.get("c", "m", 0, "original")).toBe("ok");
  });
});
