/** The timeline: all of the tenant's messages by time, across conversations and channels, through
 * agent_api `timeline` (shared/search/engine.py), paged by the server's cursor. Read through the API
 * rather than a Firestore listener: the same code as the CLI, the contact's name joined in, activity
 * lines left out unless asked for, and filters the index cannot combine checked server-side. */
import { defineStore } from "pinia";
import { ref } from "vue";

import { api, ApiError, type TimelineMessage, type TimelineRequest } from "../lib/api";

export const TIMELINE_PAGE = 50;

export interface TimelineFilters {
  /** yyyy-mm-dd (local day), inclusive; "" = no bound. */
  from: string;
  to: string;
  order: "newest" | "oldest";
  type: string; // "" = every type
  channel: string; // "" = every channel
  direction: string; // "" = every direction
}

function dayStart(day: string): number | undefined {
  if (!day) return undefined;
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d).getTime();
}

/** The request for these filters: `to` is inclusive of its whole day. */
export function timelineRequest(filters: TimelineFilters): TimelineRequest {
  const request: TimelineRequest = { order: filters.order, pageSize: TIMELINE_PAGE };
  const from = dayStart(filters.from);
  const to = dayStart(filters.to);
  if (from !== undefined) request.fromMs = from;
  if (to !== undefined) request.toMs = to + 24 * 3600 * 1000;
  if (filters.type) request.types = [filters.type];
  if (filters.channel) request.channels = [filters.channel];
  if (filters.direction) request.directions = [filters.direction];
  return request;
}

export const useTimeline = defineStore("timeline", () => {
  const filters = ref<TimelineFilters>({ from: "", to: "", order: "newest", type: "", channel: "", direction: "" });
  const messages = ref<TimelineMessage[]>([]);
  const next = ref<string | null>(null);
  const loading = ref(false);
  const loaded = ref(false);
  const error = ref<string | null>(null);
  let asked = 0;

  async function load(more = false): Promise<void> {
    const question = ++asked;
    loading.value = true;
    error.value = null;
    const request = timelineRequest(filters.value);
    if (more && next.value) request.cursor = next.value;
    try {
      const answer = await api.timeline(request);
      if (question !== asked) return;
      messages.value = more ? [...messages.value, ...answer.messages] : answer.messages;
      next.value = answer.next;
      loaded.value = true;
    } catch (exc) {
      if (question !== asked) return;
      error.value = exc instanceof ApiError ? exc.message : "The timeline could not be loaded.";
    } finally {
      if (question === asked) loading.value = false;
    }
  }

  /** New filters: the first page again. */
  function apply(value: Partial<TimelineFilters>): Promise<void> {
    filters.value = { ...filters.value, ...value };
    next.value = null;
    return load(false);
  }

  function more(): Promise<void> {
    if (!next.value || loading.value) return Promise.resolve();
    return load(true);
  }

  function reset(): void {
    asked++;
    messages.value = [];
    next.value = null;
    loaded.value = false;
    loading.value = false;
  }

  return { filters, messages, next, loading, loaded, error, load, apply, more, reset };
});
