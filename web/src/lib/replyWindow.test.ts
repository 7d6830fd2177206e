import { describe, expect, it } from "vitest";

import { replyMode, windowLeft } from "./replyWindow";
import type { Conversation } from "./types";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe("the reply window's time left", () => {
  it("never jumps between formats: hours and minutes below 48 hours, days and hours above", () => {
    expect(windowLeft(24 * HOUR)).toBe("24h 0m");
    expect(windowLeft(24 * HOUR - MINUTE)).toBe("23h 59m");
    expect(windowLeft(48 * HOUR)).toBe("2d 0h");
    expect(windowLeft(48 * HOUR - 1)).toBe("47h 59m");
    expect(windowLeft(7 * 24 * HOUR - 1)).toBe("6d 23h");
    expect(windowLeft(HOUR)).toBe("1h 0m");
    expect(windowLeft(HOUR - 1)).toBe("59m");
    expect(windowLeft(MINUTE)).toBe("1m");
    expect(windowLeft(59_999)).toBe("<1m");
  });

  it("only ever counts down, minute by minute, over a whole week", () => {
    const order = (label: string): number => {
      const [, d, h, m] = /^(?:(\d+)d )?(?:(\d+)h ?)?(?:(\d+)m)?$/.exec(label.replace("<1m", "0m")) ?? [];
      return Number(d ?? 0) * 1440 + Number(h ?? 0) * 60 + Number(m ?? 0);
    };
    let previous = Infinity;
    for (let left = 7 * 24 * HOUR; left >= 0; left -= MINUTE) {
      const value = order(windowLeft(left));
      expect(value).toBeLessThanOrEqual(previous);
      previous = value;
    }
  });

  it("is what the open window reports", () => {
    const conversation = { replyWindow: { expiresAtMs: 30 * HOUR, tagExpiresAtMs: 0, needs: "template" } } as Conversation;
    const mode = replyMode(conversation, 6 * HOUR + 30 * 1000);
    expect(mode.kind).toBe("open");
    expect(windowLeft(mode.kind === "open" ? (mode.leftMs ?? 0) : 0)).toBe("23h 59m");
  });
});
