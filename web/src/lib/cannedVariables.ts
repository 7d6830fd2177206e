/** Canned replies' variables and the `/` shortcut (issue 17, part 2).
 *
 * A canned reply's body keeps its variables as written (`{{contact.name}}`); the dashboard fills
 * them in at insert time from what it already shows, so the agent sees (and may edit) the result
 * before sending. The variables, documented in the README:
 *
 *   {{contact.name}}          the customer's name as the conversation shows it
 *   {{contact.firstName}}     its first word
 *   {{contact.lastName}}      the rest of it
 *   {{contact.handle}}        the customer's id on the channel (phone number, @username, PSID...)
 *   {{agent.name}}            the signed-in agent's name
 *   {{agent.firstName}}       its first word
 *   {{conversation.channel}}  the channel's kind in words (WhatsApp, Messenger, ...)
 *   {{channel.name}}          the connected channel's name ("+1 555 0100 (WhatsApp)")
 *   {{tenant.name}}           the business's name
 *
 * An unknown variable, or a known one with no value here (a contact without a name), is left as it
 * was written, visible, never blanked: the agent sees what is missing before sending. */

export const CANNED_VARIABLES = [
  "contact.name",
  "contact.firstName",
  "contact.lastName",
  "contact.handle",
  "agent.name",
  "agent.firstName",
  "conversation.channel",
  "channel.name",
  "tenant.name",
] as const;

export type CannedVariable = (typeof CANNED_VARIABLES)[number];

export interface VariableContext {
  contactName?: string | null;
  contactHandle?: string | null;
  agentName?: string | null;
  channelKind?: string | null;
  channelName?: string | null;
  tenantName?: string | null;
}

const CHANNEL_WORDS: Record<string, string> = {
  whatsapp: "WhatsApp",
  messenger: "Messenger",
  instagram: "Instagram",
  telegram: "Telegram",
  twilio: "SMS",
  app: "chat",
};

function words(name: string | null | undefined): string[] {
  return (name ?? "").trim().split(/\s+/).filter(Boolean);
}

/** The value of every variable this context knows (absent: no value, the variable stays). */
export function variableValues(context: VariableContext): Partial<Record<CannedVariable, string>> {
  const contact = words(context.contactName);
  const agent = words(context.agentName);
  const values: Partial<Record<CannedVariable, string>> = {
    "contact.name": contact.join(" "),
    "contact.firstName": contact[0],
    "contact.lastName": contact.slice(1).join(" "),
    "contact.handle": context.contactHandle ?? undefined,
    "agent.name": agent.join(" "),
    "agent.firstName": agent[0],
    "conversation.channel": context.channelKind ? (CHANNEL_WORDS[context.channelKind] ?? context.channelKind) : undefined,
    "channel.name": context.channelName ?? undefined,
    "tenant.name": context.tenantName ?? undefined,
  };
  for (const key of Object.keys(values) as CannedVariable[]) if (!values[key]) delete values[key];
  return values;
}

const VARIABLE = /\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}/g;

/** The body with every variable this context has a value for filled in; the others left as written. */
export function fillVariables(body: string, context: VariableContext): string {
  const values = variableValues(context) as Record<string, string | undefined>;
  return body.replace(VARIABLE, (whole, name: string) => values[name] ?? whole);
}

/** The variables of a body that would stay unfilled in this context (to point them out). */
export function unfilledVariables(body: string, context: VariableContext): string[] {
  const values = variableValues(context) as Record<string, string | undefined>;
  return [...new Set([...body.matchAll(VARIABLE)].map((m) => m[1]).filter((name) => values[name] === undefined))];
}

export interface SlashQuery {
  /** Where the `/` is in the text. */
  start: number;
  /** What follows it up to the caret (the filter). */
  query: string;
}

/** A `/` at the start of a word (the text's start or after whitespace) before the caret, followed
 * by no whitespace up to the caret: the canned-reply list opens, filtered by what was typed. */
export function slashQuery(text: string, caret: number): SlashQuery | null {
  const before = text.slice(0, caret);
  const match = /(^|\s)\/([^\s/]{0,40})$/.exec(before);
  if (!match) return null;
  return { start: caret - match[2].length - 1, query: match[2] };
}

export interface CannedLike {
  shortcut: string;
  title: string;
  body: string;
}

/** The replies matching a filter: shortcut prefix first, then shortcut, title or body containing
 * every word of it (case-insensitive); in their order otherwise. */
export function filterCanned<T extends CannedLike>(replies: T[], query: string): T[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...replies];
  const terms = q.split(/\s+/);
  const score = (reply: T): number => {
    const shortcut = reply.shortcut.toLowerCase();
    if (shortcut === q) return 0;
    if (shortcut.startsWith(q)) return 1;
    const haystack = `${shortcut} ${reply.title} ${reply.body}`.toLowerCase();
    return terms.every((term) => haystack.includes(term)) ? (reply.title.toLowerCase().includes(q) ? 2 : 3) : -1;
  };
  return replies
    .map((reply, index) => ({ reply, index, rank: score(reply) }))
    .filter((row) => row.rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map((row) => row.reply);
}

/** The text once the `/query` at `slash` is replaced by `inserted`; and where the caret goes. */
export function insertAt(text: string, slash: SlashQuery, inserted: string): { text: string; caret: number } {
  const end = slash.start + 1 + slash.query.length;
  return { text: text.slice(0, slash.start) + inserted + text.slice(end), caret: slash.start + inserted.length };
}
