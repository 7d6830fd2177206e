/** Typing `/` at the start of a word in a text field opens the canned-reply list, filtered by what
 * follows (shortcut, title or body); ArrowUp/ArrowDown move, Enter or Tab inserts the reply with its
 * variables filled in (lib/cannedVariables.ts), Escape closes (caretPicker.ts). Used by the composer
 * and by the template form's parameter fields. */
import type { Ref } from "vue";

import { fillVariables, insertAt, slashQuery, type VariableContext } from "../lib/cannedVariables";
import { useCanned } from "../stores/canned";
import { useCaretPicker } from "./caretPicker";

export const PICKER_ROWS = 8;

export function useCannedSlash(
  text: Ref<string>,
  element: Ref<HTMLTextAreaElement | HTMLInputElement | null>,
  context: () => VariableContext,
) {
  const canned = useCanned();
  const picker = useCaretPicker(text, element, {
    find: slashQuery,
    list: (at) => canned.matching(at.query).slice(0, PICKER_ROWS),
    insert: (current, at, reply) => insertAt(current, at, fillVariables(reply.body, context())),
  });
  return { ...picker, slash: picker.at };
}
