import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { useNotices } from "./notices";

let notices: ReturnType<typeof useNotices>;

beforeEach(() => {
  vi.useFakeTimers();
  setActivePinia(createPinia());
  notices = useNotices();
});

afterEach(() => vi.useRealTimers());

describe("notices", () => {
  it("shows errors and confirmations in order, each with its own id", () => {
    notices.error("Sending failed");
    notices.info("Assigned to Ana");

    expect(notices.items.map(({ kind, text }) => ({ kind, text }))).toEqual([
      { kind: "error", text: "Sending failed" },
      { kind: "info", text: "Assigned to Ana" },
    ]);
    expect(new Set(notices.items.map((n) => n.id)).size).toBe(2);
  });

  it("each goes away by itself after its time (6 s unless told)", () => {
    notices.error("first");
    vi.advanceTimersByTime(3000);
    notices.push("info", "second", 1000);

    vi.advanceTimersByTime(1000);
    expect(notices.items.map((n) => n.text)).toEqual(["first"]);

    vi.advanceTimersByTime(2000);
    expect(notices.items).toEqual([]);
  });

  it("can be dismissed early, which leaves the others", () => {
    notices.error("one");
    notices.error("two");

    notices.dismiss(notices.items[0].id);

    expect(notices.items.map((n) => n.text)).toEqual(["two"]);
    vi.advanceTimersByTime(6000); // the dismissed one's timer finds nothing to remove
    expect(notices.items).toEqual([]);
  });
});
