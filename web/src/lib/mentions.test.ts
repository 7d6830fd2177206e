import { describe, expect, it } from "vitest";

import { insertMention, matchAgents, mentionQuery } from "./mentions";
import type { Agent } from "./types";

const agents: Agent[] = [
  { id: "a", name: "Dana Scully", email: "dana@demo.test", role: "agent" },
  { id: "b", name: "Sam Rivera", email: "sam@demo.test", role: "agent" },
  { id: "c", name: "Ada Lovelace", email: "ada@demo.test", role: "admin" },
];

describe("mentions in notes", () => {
  it("finds the @query before the caret, only at a word's start", () => {
    expect(mentionQuery("hi @Da", 6)).toEqual({ start: 3, query: "Da" });
    expect(mentionQuery("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionQuery("(@sa", 4)).toEqual({ start: 1, query: "sa" });
    expect(mentionQuery("mail dana@demo", 14)).toBeNull();
    expect(mentionQuery("@Dana Sc", 8)).toBeNull(); // a space ends the query
  });

  it("matches names and e-mails by prefix, then any word of the name", () => {
    expect(matchAgents(agents, "da").map((a) => a.id)).toEqual(["a"]);
    expect(matchAgents(agents, "riv").map((a) => a.id)).toEqual(["b"]);
    expect(matchAgents(agents, "").map((a) => a.id)).toEqual(["a", "b", "c"]);
    expect(matchAgents(agents, "s").map((a) => a.id)).toEqual(["b", "a"]); // Sam first, then Dana Scully
  });

  it("inserts the full name and puts the caret after it", () => {
    const text = "@sa please check";
    expect(insertMention(text, { start: 0, query: "sa" }, agents[1])).toEqual({ text: "@Sam Rivera please check", caret: 12 });
    expect(insertMention("cc @", { start: 3, query: "" }, agents[0])).toEqual({ text: "cc @Dana Scully ", caret: 16 });
  });
});
