import { describe, expect, it } from "vitest";

import { ADMIN_PAGES, pageAt, pagesFor } from "./pages";

describe("admin pages", () => {
  it("shows an agent no admin-only page and an admin every one", () => {
    const adminOnly = ADMIN_PAGES.filter((page) => !page.roles.includes("agent"));
    expect(pagesFor("agent").some((page) => adminOnly.includes(page))).toBe(false);
    expect(pagesFor("admin")).toHaveLength(ADMIN_PAGES.length);
    expect(pagesFor(null)).toEqual([]);
  });

  it("opens the page the hash names, else the first one the role may open", () => {
    expect(pageAt("#/admin/audit", "owner")?.id).toBe("audit");
    expect(pageAt("#/admin/nowhere", "admin")?.id).toBe(pagesFor("admin")[0].id);
    expect(pageAt("#/admin/audit", "agent")?.id).not.toBe("audit");
  });
});
