/** Searching the tenant's messages and contacts through agent_api `search` (shared/search/): the
 * inbox's search box asks once the agent stops typing (debounced) and only for 3 characters or more;
 * an answer that arrives after a newer question is dropped. "More" follows the server's cursor. */
import { defineStore } from "pinia";
import { ref } from "vue";

import { api, ApiError, type ContactHit, type SearchHit, type SearchRequest } from "../lib/api";

export const SEARCH_DEBOUNCE_MS = 300;
export const SEARCH_MIN_CHARS = 3;

export type SearchFilters = Omit<SearchRequest, "query" | "cursor" | "pageSize">;

export const useSearch = defineStore("search", () => {
  const query = ref("");
  const filters = ref<SearchFilters>({});
  const results = ref<SearchHit[]>([]);
  const contacts = ref<ContactHit[]>([]);
  const next = ref<string | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);
  /** Whether the current query has been answered at least once. */
  const answered = ref(false);

  let timer: number | undefined;
  let asked = 0; // the latest question's number: older answers are dropped

  function active(): boolean {
    return query.value.trim().length >= SEARCH_MIN_CHARS;
  }

  /** The agent typed: ask after a pause (nothing for fewer than 3 characters). */
  function setQuery(text: string): void {
    query.value = text;
    window.clearTimeout(timer);
    if (!active()) {
      asked++;
      results.value = [];
      contacts.value = [];
      next.value = null;
      loading.value = false;
      answered.value = false;
      error.value = null;
      return;
    }
    loading.value = true;
    timer = window.setTimeout(() => void run(false), SEARCH_DEBOUNCE_MS);
  }

  function setFilters(value: SearchFilters): void {
    filters.value = value;
    if (active()) {
      window.clearTimeout(timer);
      void run(false);
    }
  }

  async function run(more: boolean): Promise<void> {
    const question = ++asked;
    loading.value = true;
    error.value = null;
    const request: SearchRequest = { query: query.value.trim(), ...filters.value };
    if (more && next.value) request.cursor = next.value;
    try {
      const answer = await api.search(request);
      if (question !== asked) return;
      results.value = more ? [...results.value, ...answer.results] : answer.results;
      if (!more) contacts.value = answer.contacts;
      next.value = answer.next;
      answered.value = true;
    } catch (exc) {
      if (question !== asked) return;
      error.value = exc instanceof ApiError ? exc.message : "Search failed. Try again.";
      if (!more) {
        results.value = [];
        contacts.value = [];
      }
      next.value = null;
    } finally {
      if (question === asked) loading.value = false;
    }
  }

  /** The next page of results (the server's cursor). */
  function more(): Promise<void> {
    if (!next.value || loading.value) return Promise.resolve();
    return run(true);
  }

  function reset(): void {
    setQuery("");
    filters.value = {};
  }

  return { query, filters, results, contacts, next, loading, error, answered, active, setQuery, setFilters, more, reset };
});
