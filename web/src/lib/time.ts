/** Clock and time formatting. `useNow()` is one shared ticking clock, so countdowns (the reply
 * window) and relative times stay current without a timer per component. */
import { onScopeDispose, ref, type Ref } from "vue";

const now = ref(Date.now());
let timer: number | undefined;
let users = 0;

export function useNow(): Ref<number> {
  users += 1;
  if (timer === undefined) {
    now.value = Date.now();
    timer = window.setInterval(() => (now.value = Date.now()), 15_000);
  }
  onScopeDispose(() => {
    users -= 1;
    if (users === 0 && timer !== undefined) {
      window.clearInterval(timer);
      timer = undefined;
    }
  });
  return now;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "3d 4h", "5h 12m", "12m", "<1m". */
export function duration(ms: number): string {
  if (ms < MINUTE) return "<1m";
  const days = Math.floor(ms / DAY);
  const hours = Math.floor((ms % DAY) / HOUR);
  const minutes = Math.floor((ms % HOUR) / MINUTE);
  if (days) return hours ? `${days}d ${hours}h` : `${days}d`;
  if (hours) return minutes ? `${hours}h ${minutes}m` : `${hours}h`;
  return `${minutes}m`;
}

/** A short stamp for the conversation list: time today, weekday this week, else the date. */
export function listStamp(ms: number, nowMs: number): string {
  if (!ms) return "";
  const date = new Date(ms);
  const today = new Date(nowMs);
  if (date.toDateString() === today.toDateString()) {
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  if (nowMs - ms < 6 * DAY) return date.toLocaleDateString([], { weekday: "short" });
  return date.toLocaleDateString([], { day: "numeric", month: "short" });
}

export function clockTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** A compact moment for badges: "14:00" today, "Tue 09:00" within the week, "8 Dec 09:00" later. */
export function shortMoment(ms: number, nowMs: number): string {
  const date = new Date(ms);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === new Date(nowMs).toDateString()) return time;
  if (Math.abs(ms - nowMs) < 6 * DAY) return `${date.toLocaleDateString([], { weekday: "short" })} ${time}`;
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

export function fullTime(ms: number): string {
  return new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function dayLabel(ms: number, nowMs: number): string {
  const date = new Date(ms);
  const today = new Date(nowMs);
  const yesterday = new Date(nowMs - DAY);
  if (date.toDateString() === today.toDateString()) return "Today";
  if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
  return date.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long", year: "numeric" });
}

/** When "snooze until tomorrow" wakes: 9:00 tomorrow, local time. */
export function tomorrowMorning(nowMs: number): number {
  const date = new Date(nowMs + DAY);
  date.setHours(9, 0, 0, 0);
  return date.getTime();
}

/** Next Monday 9:00, local time. */
export function nextWeek(nowMs: number): number {
  const date = new Date(nowMs);
  const days = ((8 - date.getDay()) % 7) || 7;
  date.setDate(date.getDate() + days);
  date.setHours(9, 0, 0, 0);
  return date.getTime();
}

export { MINUTE, HOUR, DAY };
