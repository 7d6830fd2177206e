/** Typing `@` in a private note opens the list of the tenant's agents (stores/directory.ts), filtered
 * by what follows; ArrowUp/ArrowDown move, Enter or Tab inserts `@Full Name `, Escape closes
 * (caretPicker.ts). The server finds the mention in the note's text and notifies the agent
 * (shared/mentions.py). */
import type { Ref } from "vue";

import { insertMention, matchAgents, mentionQuery } from "../lib/mentions";
import { useDirectory } from "../stores/directory";
import { useCaretPicker } from "./caretPicker";

export const MENTION_ROWS = 6;

export function useMentionAt(text: Ref<string>, element: Ref<HTMLTextAreaElement | null>, enabled: Ref<boolean>) {
  const directory = useDirectory();
  const picker = useCaretPicker(text, element, {
    find: (current, caret) => (enabled.value ? mentionQuery(current, caret) : null),
    list: (at) => matchAgents(directory.agents, at.query).slice(0, MENTION_ROWS),
    insert: insertMention,
  });
  return { ...picker, mention: picker.at };
}
