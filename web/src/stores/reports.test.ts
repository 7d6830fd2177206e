import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

import type { ReportPage } from "../lib/api";
import { initFirebase } from "../lib/firebase";
import { fakeAuth, fakeServer, fakeUser, resetFirebase } from "../testing/fakeFirebase";
import { formatDuration, formatPercent, formatScore, reportCsv, useReports } from "./reports";

const AGENT_API = "http://f.test/agent_api";
initFirebase({ projectId: "demo", apiKey: "k", functions: { send_message: "s", agent_api: AGENT_API, create_app: "c", chat_api: "x" } });

const csat = { csatRatings: 3, csatAverage: 4.33, csatPercent: 66.7, csatDistribution: [0, 0, 1, 0, 2] };
const noCsat = { csatRatings: 0, csatAverage: null, csatPercent: null, csatDistribution: [0, 0, 0, 0, 0] };
const row = { opened: 2, assigned: 4, resolved: 1, in: 5, out: 3, frtMedian: 64.2, frtP90: 128.9, frtMean: 80, resMedian: 600, resP90: null, ...csat };
const PAGE: ReportPage = {
  fromDay: "2026-12-06",
  toDay: "2026-12-07",
  timeZone: "UTC",
  channel: null,
  channels: ["whatsapp"],
  totals: {
    opened: 2, assigned: 4, resolved: 1, in: 5, out: 3,
    frt: { n: 2, mean: 80, median: 64.2, p90: 128.9 },
    res: { n: 1, mean: 600, median: 600, p90: 600 },
    csat: { ratings: 3, average: 4.33, percent: 66.7, distribution: [0, 0, 1, 0, 2] },
  },
  days: [
    { day: "2026-12-06", opened: 0, assigned: 0, resolved: 0, in: 0, out: 0, frtMedian: null, frtP90: null, frtMean: null, resMedian: null, resP90: null, ...noCsat },
    { day: "2026-12-07", ...row },
  ],
  hourOfWeek: { in: Array.from({ length: 7 }, () => Array(24).fill(0)), opened: Array.from({ length: 7 }, () => Array(24).fill(0)) },
  breakdown: {
    channel: [{ key: "whatsapp", name: "whatsapp", ...row }],
    agent: [{ key: "u1", name: "=HYPERLINK(\"x\")", ...row }],
    team: [],
    label: [{ key: "lb1", name: "VIP, gold", ...row }],
  },
};

let server: ReturnType<typeof fakeServer>;

beforeEach(() => {
  resetFirebase();
  fakeAuth.currentUser = fakeUser({ uid: "admin-1" });
  server = fakeServer(() => ({ status: 200, body: PAGE }));
  vi.stubGlobal("fetch", server.fetch);
  setActivePinia(createPinia());
});

afterEach(() => vi.unstubAllGlobals());

describe("the reports store", () => {
  it("asks agent_api for the range and channel chosen and keeps the answer", async () => {
    const reports = useReports();
    reports.fromDay = "2026-12-01";
    reports.toDay = "2026-12-07";
    reports.channel = "whatsapp";
    await reports.load();
    expect(server.calls.at(-1)?.url).toBe(AGENT_API);
    expect(server.calls.at(-1)?.body).toEqual({ action: "reports", fromDay: "2026-12-01", toDay: "2026-12-07", channel: "whatsapp" });
    expect(reports.page?.totals.in).toBe(5);
    expect(reports.loading).toBe(false);

    reports.channel = "";
    await reports.lastDays(30, Date.UTC(2026, 11, 7, 12));
    expect(server.calls.at(-1)?.body).toEqual({ action: "reports", fromDay: "2026-11-08", toDay: "2026-12-07" });
    expect(reports.csvName()).toBe("reports-2026-11-08-2026-12-07.csv");
  });

  it("shows the server's refusal and keeps the earlier figures", async () => {
    const reports = useReports();
    await reports.load();
    server.answer(() => ({ status: 403, body: { error: { code: "admin_only", message: "only an admin can do reports" } } }));
    await reports.load();
    expect(reports.error).toBe("only an admin can do reports");
    expect(reports.page?.totals.opened).toBe(2);
  });

  it("writes a CSV of days and breakdowns with their CSAT, whole seconds, formulas and commas quoted", () => {
    const lines = reportCsv(PAGE).trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "section,key,name,opened,assigned,resolved,messages_in,messages_out,first_response_median_s,first_response_p90_s," +
        "first_response_mean_s,resolution_median_s,resolution_p90_s,csat_ratings,csat_average,csat_percent",
    );
    expect(lines[1]).toBe("day,2026-12-06,2026-12-06,0,0,0,0,0,,,,,,0,,");
    expect(lines[2]).toBe("day,2026-12-07,2026-12-07,2,4,1,5,3,64,129,80,600,,3,4.33,66.7");
    expect(lines[4]).toBe('agent,u1,"=HYPERLINK(""x"")",2,4,1,5,3,64,129,80,600,,3,4.33,66.7');
    expect(lines[5]).toBe('label,lb1,"VIP, gold",2,4,1,5,3,64,129,80,600,,3,4.33,66.7');
    expect(lines).toHaveLength(6);
  });

  it("formats CSAT shares and average scores for people", () => {
    expect([formatPercent(null), formatPercent(66.7), formatScore(undefined), formatScore(4.333)]).toEqual(["–", "67%", "–", "4.3"]);
  });

  it("formats durations for people", () => {
    expect([formatDuration(null), formatDuration(42.4), formatDuration(540), formatDuration(5400), formatDuration(200_000)]).toEqual([
      "–", "42 s", "9 min", "1.5 h", "2.3 d",
    ]);
  });
});
