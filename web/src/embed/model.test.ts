import { describe, expect, it } from "vitest";

import { membershipFromDoc, seenSeq, unreadFrom } from "./model";

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
