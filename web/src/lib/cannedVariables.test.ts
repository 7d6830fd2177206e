import { describe, expect, it } from "vitest";

import { fillVariables, filterCanned, insertAt, slashQuery, unfilledVariables } from "./cannedVariables";

const context = {
  contactName: "Kerry  Ann Fisher",
  contactHandle: "15551234567",
  agentName: "Dana Agent",
  channelKind: "whatsapp",
  channelName: "+1 555 0100 (WhatsApp)",
  tenantName: "Demo Shop",
};

describe("canned reply variables", () => {
  it("fills every documented variable from what the dashboard shows", () => {
    const body =
      "Hi {{contact.firstName}} ({{contact.name}}, {{contact.lastName}}, {{contact.handle}}): {{agent.firstName}} " +
      "of {{tenant.name}} here ({{agent.name}}) on {{conversation.channel}} / {{channel.name}}.";
    expect(fillVariables(body, context)).toBe(
      "Hi Kerry (Kerry Ann Fisher, Ann Fisher, 15551234567): Dana of Demo Shop here (Dana Agent) on WhatsApp / +1 555 0100 (WhatsApp).",
    );
  });

  it("tolerates spaces inside the braces", () => {
    expect(fillVariables("Hi {{ contact.firstName }}!", context)).toBe("Hi Kerry!");
  });

  it("leaves unknown variables, and known ones without a value, visible rather than blank", () => {
    const body = "Hi {{contact.firstName}}, order {{order.id}} {{contact.lastName}}";
    const nameless = { ...context, contactName: "" };
    expect(fillVariables(body, nameless)).toBe("Hi {{contact.firstName}}, order {{order.id}} {{contact.lastName}}");
    expect(unfilledVariables(body, nameless)).toEqual(["contact.firstName", "order.id", "contact.lastName"]);
    expect(fillVariables("{{contact.lastName}}", { contactName: "Cher" })).toBe("{{contact.lastName}}");
  });
});

describe("the / shortcut", () => {
  it("opens at the start of a word only, with what follows as the filter", () => {
    expect(slashQuery("/", 1)).toEqual({ start: 0, query: "" });
    expect(slashQuery("/thank", 6)).toEqual({ start: 0, query: "thank" });
    expect(slashQuery("Sure! /ref", 10)).toEqual({ start: 6, query: "ref" });
    expect(slashQuery("line one\n/sig", 13)).toEqual({ start: 9, query: "sig" });
    expect(slashQuery("and/or", 6)).toBeNull();
    expect(slashQuery("https://x.test/a", 16)).toBeNull();
    expect(slashQuery("/thanks a lot", 13)).toBeNull(); // a space closes it
    expect(slashQuery("/thanks later", 4)).toEqual({ start: 0, query: "tha" }); // up to the caret
  });

  it("replaces the /query with the inserted text and puts the caret after it", () => {
    const text = "Sure! /ref thanks";
    const slash = slashQuery(text, 10)!;
    expect(insertAt(text, slash, "Your refund is on its way.")).toEqual({
      text: "Sure! Your refund is on its way. thanks",
      caret: 32,
    });
  });

  it("filters by shortcut first, then by every word in shortcut, title or body", () => {
    const replies = [
      { id: "1", shortcut: "hours", title: "Opening hours", body: "We are open 9 to 5." },
      { id: "2", shortcut: "refund", title: "Refund policy", body: "Refunds take 5 days." },
      { id: "3", shortcut: "ref-thanks", title: "Thanks for the referral", body: "Thank you!" },
      { id: "4", shortcut: "bye", title: "Goodbye", body: "Have a great day, see you" },
    ];
    expect(filterCanned(replies, "").map((r) => r.id)).toEqual(["1", "2", "3", "4"]);
    expect(filterCanned(replies, "refund").map((r) => r.id)).toEqual(["2"]);
    expect(filterCanned(replies, "ref").map((r) => r.id)).toEqual(["2", "3"]);
    expect(filterCanned(replies, "REF").map((r) => r.id)).toEqual(["2", "3"]);
    expect(filterCanned(replies, "great day").map((r) => r.id)).toEqual(["4"]);
    expect(filterCanned(replies, "5").map((r) => r.id)).toEqual(["1", "2"]);
    expect(filterCanned(replies, "nothing")).toEqual([]);
  });
});
