/** Typing `@` in a private note opens the list of the tenant's agents (stores/directory.ts), filtered
 * by what follows; ArrowUp/ArrowDown move, Enter or Tab inserts `@Full Name `, Escape closes. The
 * server finds the mention in the note's text and notifies the agent (shared/mentions.py). */
import { computed, nextTick, ref, type Ref } from "vue";

import { insertMention, matchAgents, mentionQuery, type MentionQuery } from "../lib/mentions";
import { useDirectory } from "../stores/directory";

export const MENTION_ROWS = 6;

export function useMentionAt(text: Ref<string>, element: Ref<HTMLTextAreaElement | null>, enabled: Ref<boolean>) {
  const directory = useDirectory();
  const mention = ref<MentionQuery | null>(null);
  const active = ref(0);
  const items = computed(() => (mention.value ? matchAgents(directory.agents, mention.value.query).slice(0, MENTION_ROWS) : []));

  function update(): void {
    const el = element.value;
    const next = enabled.value && el ? mentionQuery(text.value, el.selectionStart ?? text.value.length) : null;
    if (next?.start !== mention.value?.start || next?.query !== mention.value?.query) active.value = 0;
    mention.value = next;
  }

  function close(): void {
    mention.value = null;
  }

  function choose(index: number): void {
    const agent = items.value[index];
    const at = mention.value;
    if (!agent || !at) return;
    const result = insertMention(text.value, at, agent);
    text.value = result.text;
    mention.value = null;
    void nextTick(() => {
      const el = element.value;
      el?.focus();
      el?.setSelectionRange(result.caret, result.caret);
    });
  }

  /** The list's keys; true when the key was the list's. */
  function onKeydown(event: KeyboardEvent): boolean {
    if (!mention.value || event.isComposing) return false;
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

  return { mention, items, active, update, close, choose, onKeydown };
}
