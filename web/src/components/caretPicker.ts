/** A list that opens at a trigger character before the caret in a text field (`/` for canned
 * replies, `@` for mentions): what follows the trigger filters it; ArrowUp/ArrowDown move, Enter or
 * Tab inserts the chosen item in place of the trigger and its query, Escape closes. The composables
 * cannedSlash.ts and mentionAt.ts say what the trigger finds, lists and inserts. */
import { computed, nextTick, ref, type Ref } from "vue";

/** Where a trigger sits in the text and what follows it up to the caret. */
export interface CaretQuery {
  start: number;
  query: string;
}

export interface CaretPickerRules<Q extends CaretQuery, T> {
  /** The trigger before the caret, or null (also null while the picker should not open). */
  find: (text: string, caret: number) => Q | null;
  /** The items for a query, at most as many as the list shows. */
  list: (at: Q) => T[];
  /** The text with `item` in place of the trigger and its query, and where the caret goes. */
  insert: (text: string, at: Q, item: T) => { text: string; caret: number };
}

export function useCaretPicker<Q extends CaretQuery, T>(
  text: Ref<string>,
  element: Ref<HTMLTextAreaElement | HTMLInputElement | null>,
  rules: CaretPickerRules<Q, T>,
) {
  const at = ref<Q | null>(null) as Ref<Q | null>;
  const active = ref(0);
  const items = computed(() => (at.value ? rules.list(at.value) : []));

  /** Look again at the text before the caret (after input, a click, a caret move). */
  function update(): void {
    const el = element.value;
    const next = el ? rules.find(text.value, el.selectionStart ?? text.value.length) : null;
    if (next?.start !== at.value?.start || next?.query !== at.value?.query) active.value = 0;
    at.value = next;
  }

  function close(): void {
    at.value = null;
  }

  /** Insert item `index` of the list in place of the trigger and its query. */
  function choose(index: number): void {
    const item = items.value[index];
    const where = at.value;
    if (item === undefined || !where) return;
    const result = rules.insert(text.value, where, item);
    text.value = result.text;
    at.value = null;
    void nextTick(() => {
      const el = element.value;
      el?.focus();
      el?.setSelectionRange(result.caret, result.caret);
    });
  }

  /** The list's keys; true when the key was the list's (the caller does nothing more with it). */
  function onKeydown(event: KeyboardEvent): boolean {
    if (!at.value || event.isComposing) return false;
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

  return { at, items, active, update, close, choose, onKeydown };
}
