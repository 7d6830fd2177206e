import { describe, expect, it } from "vitest";

import { actorIn, roleChoices } from "./roles";

describe("roles the team page offers", () => {
  it("lets owners grant owner, admins not", () => {
    expect(roleChoices("owner", "support")).toEqual(["agent", "admin", "owner"]);
    expect(roleChoices("admin", "support")).toEqual(["agent", "admin"]);
  });

  it("offers developer only in an app's workspace", () => {
    expect(roleChoices("owner", "app")).toEqual(["agent", "admin", "owner", "developer"]);
    expect(roleChoices("admin", "")).not.toContain("developer");
  });
});

describe("the audit log's address", () => {
  it("names an actor to filter by", () => {
    expect(actorIn("#/admin/audit?actor=u%201")).toBe("u 1");
    expect(actorIn("#/admin/audit")).toBeNull();
    expect(actorIn("#/admin/audit?actor=")).toBeNull();
  });
});
