/** @mentions in private notes: what the composer's autocomplete reads before the caret, which agents
 * match it, and what it inserts. The server finds the mentions again in the note's text
 * (shared/mentions.py): the full name, a first name no one else has, or the e-mail's local part. */
import type { Agent } from "./types";

export interface MentionQuery {
  /** Where the `@` is. */
  start: number;
  /** What follows it, up to the caret. */
  query: string;
}

/** The `@query` the caret is in: `@` at the start or after a space or an opening bracket/quote,
 * then at most 40 characters without spaces; null elsewhere. */
export function mentionQuery(text: string, caret: number): MentionQuery | null {
  const before = text.slice(0, caret);
  const match = /(^|[\s([{"'])@([^\s@]{0,40})$/.exec(before);
  if (!match) return null;
  return { start: caret - match[2].length - 1, query: match[2] };
}

/** The agents matching a query: name or e-mail starting with it first, then any word of the name
 * starting with it; by name otherwise. */
export function matchAgents(agents: Agent[], query: string): Agent[] {
  const q = query.toLowerCase();
  const starts = (a: Agent) => a.name.toLowerCase().startsWith(q) || a.email.toLowerCase().startsWith(q);
  const word = (a: Agent) => a.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q));
  return [...agents.filter(starts), ...agents.filter((a) => !starts(a) && word(a))];
}

/** The text with `@query` replaced by `@Full Name ` and where the caret goes after it. */
export function insertMention(text: string, at: MentionQuery, agent: Agent): { text: string; caret: number } {
  const handle = `@${agent.name || agent.email.split("@")[0]} `;
  const end = at.start + 1 + at.query.length;
  const rest = text.slice(end).replace(/^ /, "");
  return { text: text.slice(0, at.start) + handle + rest, caret: at.start + handle.length };
}
