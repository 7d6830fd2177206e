/** Typing `/` at the start of a word in a text field opens the canned-reply list, filtered by what
 * follows (shortcut, title or body); ArrowUp/ArrowDown move, Enter or Tab inserts the reply with its
 * variables filled in (lib/cannedVariables.ts), Escape closes. Used by the composer and by the
 * template form's parameter fields. */
import { computed, nextTick, ref, type Ref } from "vue";

import { fillVariables, insertAt, slashQuery, type SlashQuery, type VariableContext } from "../lib/cannedVariables";
import { useCanned } from "../stores/canned";

export const PICKER_ROWS = 8;

export function useCannedSlash(
  text: Ref<string>,
  element: Ref<HTMLTextAreaElement | HTMLInputElement | null>,
  context: () => VariableContext,
) {
  const canned = useCanned();
  const slash = ref<SlashQuery | null>(null);
  const active = ref(0);
  const items = computed(() => (slash.value ? canned.matching(slash.value.query).slice(0, PICKER_ROWS) : []));

  /** Look again at the text before the caret (after input, a click, a caret move). */
  function update(): void {
    const el = element.value;
    const next = el ? slashQuery(text.value, el.selectionStart ?? text.value.length) : null;
    if (next?.start !== slash.value?.start || next?.query !== slash.value?.query) active.value = 0;
    slash.value = next;
  }

  function close(): void {
    slash.value = null;
  }

  /** Insert reply `index` of the list in place of `/query`. */
  function choose(index: number): void {
    const reply = items.value[index];
    const at = slash.value;
    if (!reply || !at) return;
    const result = insertAt(text.value, at, fillVariables(reply.body, context()));
    text.value = result.text;
    slash.value = null;
    void nextTick(() => {
      const el = element.value;
      el?.focus();
      el?.setSelectionRange(result.caret, result.caret);
    });
  }

  /** The list's keys; true when the key was the list's (the caller does nothing more with it). */
  function onKeydown(event: KeyboardEvent): boolean {
    if (!slash.value || event.isComposing) return false;
    const count = items.value.length;
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
      return true;
    }
    if (!count) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active.value = (active.value + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      return true;
    }
    if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
      event.preventDefault();
      choose(active.value);
      return true;
    }
    return false;
  }

  return { slash, items, active, update, close, choose, onKeydown };
}
