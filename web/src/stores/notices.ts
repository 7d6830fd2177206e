/** Short-lived messages for the agent (an action that failed, a confirmation), shown as toasts. */
import { defineStore } from "pinia";
import { ref } from "vue";

export interface Notice {
  id: number;
  kind: "error" | "info";
  text: string;
}

export const useNotices = defineStore("notices", () => {
  const items = ref<Notice[]>([]);
  let next = 1;

  function push(kind: Notice["kind"], text: string, timeoutMs = 6000): void {
    const id = next++;
    items.value.push({ id, kind, text });
    window.setTimeout(() => dismiss(id), timeoutMs);
  }

  function dismiss(id: number): void {
    items.value = items.value.filter((n) => n.id !== id);
  }

  /** A new action starts: the errors of earlier ones are no longer news (they would otherwise stay
   * on screen through later actions that succeed). */
  function clearErrors(): void {
    items.value = items.value.filter((n) => n.kind !== "error");
  }

  return {
    items,
    push,
    dismiss,
    clearErrors,
    error: (text: string) => push("error", text),
    info: (text: string) => push("info", text),
  };
});
