import { describe, expect, it, vi } from "vitest";

import { createTypingSignal } from "./typingSignal";

describe("the typing signal", () => {
  it("sends at most once per conversation per interval, whatever the keystrokes", () => {
    let now = 1_000;
    const send = vi.fn(async () => undefined);
    const typed = createTypingSignal(send, 4_000, () => now);
    for (let i = 0; i < 30; i++) {
      typed("c1");
      now += 100; // 30 keystrokes in 3 s
    }
    typed("c2");
    expect(send.mock.calls).toEqual([["c1"], ["c2"]]);
    now = 5_000;
    typed("c1");
    expect(send).toHaveBeenCalledTimes(3);
  });

  it("never throws or retries when the call fails", async () => {
    const send = vi.fn(async () => {
      throw new Error("offline");
    });
    const typed = createTypingSignal(send, 4_000, () => 0);
    expect(() => typed("c1")).not.toThrow();
    await Promise.resolve();
    typed("c1");
    expect(send).toHaveBeenCalledTimes(1);
  });
});
