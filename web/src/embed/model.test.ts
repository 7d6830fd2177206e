import { describe, expect, it } from "vitest";

import { membershipFromDoc, seenCounter, seenSeq, unreadFrom } from "./model";

const posts = (...ids: string[]) => ids.map((id) => ({ id }));

describe("unread from the watermark", () => {
  it("is max(0, seq - lastReadSeq), missing fields counting 0", () => {
    expect(unreadFrom(7, 4)).toBe(3);
    expect(unreadFrom(4, 7)).toBe(0); // the user's own post counted before the channel's fold
    expect(unreadFrom(undefined, 2)).toBe(0);
    expect(unreadFrom(3, null)).toBe(3);
  });
});

describe("the seq on screen", () => {
  it("is the channel's when the last post shown is the one it counted", () => {
    expect(seenSeq(5, "p5", posts("p4", "p5"))).toBe(5);
  });

  it("adds the posts shown after the one the channel counted last", () => {
    expect(seenSeq(5, "p5", posts("p4", "p5", "p6", "p7"))).toBe(7);
  });

  it("is the channel's when its last counted post is not shown (the posts listener is behind)", () => {
    expect(seenSeq(6, "p6", posts("p4", "p5"))).toBe(6);
  });

  it("counts every post shown in a channel that has counted none yet", () => {
    expect(seenSeq(0, null, posts("p1", "p2"))).toBe(2);
    expect(seenSeq(3, null, posts("p1"))).toBe(3); // no summary to place them: the channel's
  });
});

describe("the seq on screen while the channel's document is paused", () => {
  it("is the same as seenSeq while the channel's last post is on screen", () => {
    const seen = seenCounter();
    expect(seen(5, "p5", posts("p4", "p5"))).toBe(5);
    expect(seen(5, "p5", posts("p4", "p5", "p6", "p7"))).toBe(7);
  });

  it("keeps counting the posts that arrive after the channel's last post scrolled off", () => {
    const seen = seenCounter();
    expect(seen(5, "p5", posts("p4", "p5", "p6"))).toBe(6);
    expect(seen(5, "p5", posts("p6", "p7", "p8"))).toBe(8); // p5 left the window of the last posts
    expect(seen(5, "p5", posts("p8", "p9", "p10"))).toBe(10);
    expect(seen(5, "p5", posts("p8", "p9", "p10"))).toBe(10); // asked again: counted once
  });

  it("starts afresh when the channel's document moves (it is listened to again)", () => {
    const seen = seenCounter();
    expect(seen(5, "p5", posts("p5", "p6", "p7"))).toBe(7);
    expect(seen(7, "p7", posts("p5", "p6", "p7"))).toBe(7);
  });

  it("counts nothing unseen when the last post counted is older than the screen at first", () => {
    const seen = seenCounter();
    expect(seen(60, "p1", posts("p10", "p11"))).toBe(60);
    expect(seen(60, "p1", posts("p10", "p11", "p12"))).toBe(61); // arrived while open
  });

  it("counts every post of a channel that has counted none, and each arrival once", () => {
    const seen = seenCounter();
    expect(seen(0, null, posts("p1", "p2"))).toBe(2);
    expect(seen(0, null, posts("p2", "p3"))).toBe(3);
  });
});

describe("a member document", () => {
  const snap = (data: Record<string, unknown>, parent = "c9") =>
    ({ id: "u1", data: () => data, ref: { parent: { parent: { id: parent } } } }) as never;

  it("names its channel and the user's read watermark; a role-less one is no membership", () => {
    expect(membershipFromDoc(snap({ channelId: "g1", role: "owner", lastReadSeq: 4 }))).toEqual({
      channelId: "g1",
      role: "owner",
      lastReadSeq: 4,
    });
    expect(membershipFromDoc(snap({ role: "member" }))).toEqual({ channelId: "c9", role: "member", lastReadSeq: 0 });
    expect(membershipFromDoc(snap({ channelId: "g1", lastReadSeq: -2 }))?.role).toBeNull();
  });
});
