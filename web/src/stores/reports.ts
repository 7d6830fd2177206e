/** The admin console's reports page: the date range and channel asked for, the figures agent_api
 * `reports` answered (shared/reports/api.py), and the CSV the page downloads. Nothing here reads
 * Firestore: the figures are kept by the server's fold, one request per change of filter. */
import { defineStore } from "pinia";
import { ref } from "vue";

import { api, ApiError, type ReportDay, type ReportPage, type ReportRow } from "../lib/api";

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of a moment, in UTC (the reports' days are the tenant's; the range is a choice). */
export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A duration in seconds as people read it: "45 s", "12 min", "3.5 h", "2.1 d"; "–" for none. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

function cell(value: string | number | null): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\n\r]/.test(text) || /^[=+\-@]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const COLUMNS = ["opened", "assigned", "resolved", "in", "out", "frtMedian", "frtP90", "frtMean", "resMedian", "resP90"] as const;
const CSAT_COLUMNS = ["csatRatings", "csatAverage", "csatPercent"] as const;

function seconds(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}

/** A CSAT share as people read it: "83%"; "–" with no rating. */
export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${Math.round(value)}%`;
}

/** An average score: "4.3"; "–" with no rating. */
export function formatScore(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : value.toFixed(1);
}

function cells(row: ReportDay | ReportRow): (string | number | null)[] {
  return [
    ...COLUMNS.map((c) => (c.startsWith("frt") || c.startsWith("res") ? seconds(row[c]) : row[c])),
    ...CSAT_COLUMNS.map((c) => row[c] ?? null),
  ];
}

/** The page's figures as CSV: one row per day, then one per channel, agent, team and label
 * (durations in whole seconds; CSAT: ratings, average score, share of 4 and 5 in %). Cells that a spreadsheet would run as a formula are quoted. */
export function reportCsv(page: ReportPage): string {
  const header = ["section", "key", "name", "opened", "assigned", "resolved", "messages_in", "messages_out",
    "first_response_median_s", "first_response_p90_s", "first_response_mean_s",
    "resolution_median_s", "resolution_p90_s", "csat_ratings", "csat_average", "csat_percent"];
  const rows: (string | number | null)[][] = [header];
  for (const day of page.days) {
    rows.push(["day", day.day, day.day, ...cells(day)]);
  }
  for (const section of ["channel", "agent", "team", "label"] as const) {
    for (const row of page.breakdown[section] as ReportRow[]) {
      rows.push([section, row.key, row.name, ...cells(row)]);
    }
  }
  return rows.map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
}

export const useReports = defineStore("reports", () => {
  const toDay = ref(isoDay(Date.now()));
  const fromDay = ref(isoDay(Date.now() - 6 * DAY_MS));
  const channel = ref("");
  const page = ref<ReportPage | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);
  let asked = 0;

  /** Ask for the figures of the current filters (a later request wins over an earlier one). */
  async function load(): Promise<void> {
    const ticket = ++asked;
    loading.value = true;
    error.value = null;
    try {
      const answer = await api.reports({
        fromDay: fromDay.value,
        toDay: toDay.value,
        ...(channel.value ? { channel: channel.value } : {}),
      });
      if (ticket === asked) page.value = answer;
    } catch (exc) {
      if (ticket === asked) error.value = exc instanceof ApiError ? exc.message : "Could not load the reports";
    } finally {
      if (ticket === asked) loading.value = false;
    }
  }

  /** The last `days` days, today included. */
  function lastDays(days: number, now: number = Date.now()): Promise<void> {
    toDay.value = isoDay(now);
    fromDay.value = isoDay(now - (days - 1) * DAY_MS);
    return load();
  }

  function csv(): string {
    return page.value ? reportCsv(page.value) : "";
  }

  function csvName(): string {
    return `reports-${fromDay.value}-${toDay.value}${channel.value ? `-${channel.value}` : ""}.csv`;
  }

  return { fromDay, toDay, channel, page, loading, error, load, lastDays, csv, csvName };
});
