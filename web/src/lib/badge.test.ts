import { describe, expect, it } from "vitest";

import { tabTitle } from "./badge";

describe("the tab's title", () => {
  it("shows unread notifications, then unread conversations", () => {
    expect(tabTitle(0, 0)).toBe("Switchboard");
    expect(tabTitle(3, 0)).toBe("(3) Switchboard");
    expect(tabTitle(0, 2)).toBe("🔔2 Switchboard");
    expect(tabTitle(1, 150)).toBe("🔔99+ (1) Switchboard");
  });
});
