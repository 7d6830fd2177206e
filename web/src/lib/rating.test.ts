import { describe, expect, it } from "vitest";

import { stars, toRating } from "./types";

describe("a conversation's rating", () => {
  it("reads the csat map's score, comment and time, and nothing that is no score 1-5", () => {
    expect(toRating({ score: 4, comment: "quick and kind", ratedAtMs: 1000, askId: "cs1" })).toEqual({
      score: 4,
      comment: "quick and kind",
      ratedAtMs: 1000,
    });
    expect(toRating({ score: 5 })).toEqual({ score: 5, comment: "", ratedAtMs: 0 });
    for (const bad of [undefined, null, {}, { score: 0 }, { score: 6 }, { score: 2.5 }, { score: "x" }]) {
      expect(toRating(bad)).toBeNull();
    }
  });

  it("draws five stars with the score's filled", () => {
    expect(stars(4)).toBe("★★★★☆");
    expect(stars(1)).toBe("★☆☆☆☆");
    expect(stars(9)).toBe("★★★★★");
  });
});
