/** The operations page (admins): what the quarantine and the dead-letter subscription hold for the
 * workspace, masked by the server; one item revealed at a time on request; replay, replay all that
 * now parse, discard with a reason. Every action is agent_api's (shared/operations/console.py),
 * which does what the CLI does and records it in the audit log; the page reloads after each. */
import { defineStore } from "pinia";
import { ref } from "vue";

import { api, ApiError } from "../lib/api";
import { outcomeText, type OperationsOverview } from "../lib/operations";

export type ItemKind = "quarantine" | "deadLetter";

function key(kind: ItemKind, id: string): string {
  return `${kind}:${id}`;
}

export const useOperations = defineStore("operations", () => {
  const overview = ref<OperationsOverview | null>(null);
  const loading = ref(false);
  const busy = ref<string | null>(null);
  const error = ref<string | null>(null);
  const message = ref<string | null>(null);
  /** Revealed raw payloads by `kind:id` (never kept past a reload). */
  const revealed = ref<Record<string, unknown>>({});

  function failed(exc: unknown, what: string): void {
    error.value = exc instanceof ApiError ? exc.message : `${what} failed`;
  }

  async function load(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      overview.value = await api.operations();
      revealed.value = {};
    } catch (exc) {
      failed(exc, "Loading the operations page");
    } finally {
      loading.value = false;
    }
  }

  function isRevealed(kind: ItemKind, id: string): boolean {
    return key(kind, id) in revealed.value;
  }

  /** The raw payload to show: the revealed one if asked for, else the masked one. */
  function raw(kind: ItemKind, id: string, masked: unknown): unknown {
    return isRevealed(kind, id) ? revealed.value[key(kind, id)] : masked;
  }

  async function toggleReveal(kind: ItemKind, id: string): Promise<void> {
    const k = key(kind, id);
    if (k in revealed.value) {
      const { [k]: _, ...rest } = revealed.value;
      revealed.value = rest;
      return;
    }
    await run(k, "Revealing", async () => {
      const answer = kind === "quarantine" ? await api.quarantineReveal(id) : await api.deadLetterReveal(id);
      revealed.value = { ...revealed.value, [k]: answer.raw };
      return null;
    }, false);
  }

  async function run(k: string, what: string, action: () => Promise<string | null>, reload = true): Promise<void> {
    busy.value = k;
    error.value = null;
    message.value = null;
    try {
      message.value = await action();
      if (reload) await load();
    } catch (exc) {
      failed(exc, what);
    } finally {
      busy.value = null;
    }
  }

  const replay = (kind: ItemKind, id: string) =>
    run(key(kind, id), "Replaying", async () => {
      if (kind === "quarantine") return outcomeText((await api.quarantineReplay(id)).outcome);
      await api.deadLetterReplay(id);
      return "Replayed: published again for ingest";
    });

  const replayAll = () =>
    run("quarantine:*", "Replaying", async () => {
      const answer = await api.quarantineReplayAll();
      const left = answer.results.length - answer.replayed;
      return `${answer.replayed} item(s) replayed${left ? `, ${left} still failing` : ""}`;
    });

  async function discard(kind: ItemKind, id: string, reason: string): Promise<void> {
    if (!reason.trim()) {
      error.value = "Say why it is discarded.";
      return;
    }
    await run(key(kind, id), "Discarding", async () => {
      if (kind === "quarantine") {
        const answer = await api.quarantineDiscard(id, reason.trim());
        return answer.discarded ? "Discarded" : "It was replayed or discarded already";
      }
      await api.deadLetterDiscard(id, reason.trim());
      return "Discarded";
    });
  }

  return { overview, loading, busy, error, message, revealed, load, isRevealed, raw, toggleReveal, replay, replayAll, discard };
});
