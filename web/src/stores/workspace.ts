/** Workspace settings: the admin's settings page (load and save through agent_api
 * `workspace_settings`, validated server-side and audited), and every agent's view of the
 * reply-window reminder, read live from the tenant document (the rules let staff `get` it). */
import { defineStore } from "pinia";
import { ref } from "vue";
import { doc, onSnapshot, type Unsubscribe } from "firebase/firestore";

import { api, ApiError } from "../lib/api";
import { db } from "../lib/firebase";
import {
  DAYS,
  editable,
  knownZone,
  rangeProblem,
  reminderMinutes,
  toSave,
  type Day,
  type WorkspaceSettings,
} from "../lib/workspaceSettings";

export const useWorkspace = defineStore("workspace", () => {
  const form = ref<WorkspaceSettings | null>(null);
  const saving = ref(false);
  const error = ref<string | null>(null);
  const saved = ref(false);
  /** The reply-window reminder (minutes), live; null when the workspace set none. */
  const reminder = ref<number | null>(null);
  let unsubscribe: Unsubscribe | null = null;

  function start(tenantId: string): void {
    stop();
    unsubscribe = onSnapshot(
      doc(db(), "tenants", tenantId),
      (snapshot) => {
        reminder.value = reminderMinutes(snapshot.data()?.settings);
      },
      () => {
        reminder.value = null;
      },
    );
  }

  function stop(): void {
    unsubscribe?.();
    unsubscribe = null;
    reminder.value = null;
  }

  async function load(fallbackName: string): Promise<void> {
    error.value = null;
    saved.value = false;
    try {
      form.value = editable((await api.workspaceSettings()).settings, fallbackName);
    } catch (exc) {
      error.value = exc instanceof ApiError ? exc.message : "Could not load the settings";
    }
  }

  /** The first problem the server would refuse, checked before sending. */
  function problem(settings: WorkspaceSettings): string | null {
    if (!settings.name.trim()) return "The workspace needs a name.";
    if (!knownZone(settings.timeZone.trim())) return `${settings.timeZone} is not a time zone (like Europe/Paris).`;
    for (const day of DAYS) {
      const issue = rangeProblem(settings.businessHours?.[day] ?? []);
      if (issue) return `${day}: ${issue}.`;
    }
    if (settings.autoReply.enabled && !settings.autoReply.text.trim()) return "Write the auto-reply's message.";
    return null;
  }

  async function save(): Promise<boolean> {
    if (!form.value) return false;
    saved.value = false;
    const issue = problem(form.value);
    if (issue) {
      error.value = issue;
      return false;
    }
    saving.value = true;
    error.value = null;
    try {
      form.value = editable((await api.saveWorkspaceSettings(toSave(form.value))).settings, form.value.name);
      saved.value = true;
      return true;
    } catch (exc) {
      error.value = exc instanceof ApiError ? exc.message : "Could not save the settings";
      return false;
    } finally {
      saving.value = false;
    }
  }

  function useHours(enabled: boolean): void {
    if (!form.value) return;
    form.value.businessHours = enabled
      ? Object.fromEntries(DAYS.map((day) => [day, day === "sat" || day === "sun" ? [] : [["09:00", "17:00"]]]))
      : undefined;
  }

  function addRange(day: Day): void {
    const hours = form.value?.businessHours;
    if (!hours) return;
    hours[day] = [...(hours[day] ?? []), ["09:00", "17:00"]];
  }

  function removeRange(day: Day, index: number): void {
    const hours = form.value?.businessHours;
    if (!hours) return;
    hours[day] = (hours[day] ?? []).filter((_, i) => i !== index);
  }

  return { form, saving, error, saved, reminder, start, stop, load, problem, save, useHours, addRange, removeRange };
});
