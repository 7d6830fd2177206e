/** Who is signed in: the Firebase user, the tenant and role from its ID token's custom claims
 * (`tenantId`, `role`, set when the agent was invited), and names to show.
 *
 * Roles (shared/auth.py): owners, admins and agents use the dashboard (owners and admins also the
 * admin console); a developer of an app uses the developer pages (/developers), not the inbox.
 * While signed in, the member's own directory entry (tenants/{t}/agents/{uid}) is watched: when an
 * admin deactivates them the dashboard signs out at once, and when their role changes it signs out
 * too (the server revoked their tokens), so they sign in again with the new role. */
import { defineStore } from "pinia";
import { computed, nextTick, ref } from "vue";
import {
  onAuthStateChanged,
  signInWithEmailAndPassword,
  signOut as firebaseSignOut,
  type User,
} from "firebase/auth";
import { doc, getDoc, onSnapshot, type Unsubscribe } from "firebase/firestore";

import { auth, db } from "../lib/firebase";

export const AGENT_ROLES = ["owner", "admin", "agent"];

export const DEACTIVATED = "Your account was deactivated. Ask an admin of your workspace.";
export const ROLE_CHANGED = "Your role changed. Sign in again to continue.";

type Phase = "starting" | "signedOut" | "signedIn";

export const useSession = defineStore("session", () => {
  const phase = ref<Phase>("starting");
  const user = ref<User | null>(null);
  const tenantId = ref<string | null>(null);
  const role = ref<string | null>(null);
  const tenantName = ref<string>("");
  /** The workspace's kind: "support" (a business) or "app" (a chat app), once its document is read. */
  const tenantKind = ref<string>("");
  const agentName = ref<string>("");
  const error = ref<string | null>(null);

  const uid = computed(() => user.value?.uid ?? "");
  let stopWatch: Unsubscribe | null = null;

  let started = false;
  function start(): void {
    if (started) return;
    started = true;
    onAuthStateChanged(auth(), async (next) => {
      if (!next) {
        reset();
        phase.value = "signedOut";
        return;
      }
      const token = await next.getIdTokenResult();
      const claimedTenant = token.claims.tenantId;
      const claimedRole = token.claims.role;
      if (typeof claimedTenant !== "string" || !AGENT_ROLES.includes(String(claimedRole))) {
        error.value =
          claimedRole === "developer" && typeof claimedTenant === "string"
            ? "This account develops an app: open the developer pages (/developers)."
            : "This account is not an agent of any workspace. Ask an admin to invite you.";
        await firebaseSignOut(auth());
        return;
      }
      user.value = next;
      tenantId.value = claimedTenant;
      role.value = String(claimedRole);
      agentName.value = next.displayName || next.email || "Agent";
      tenantName.value = claimedTenant;
      error.value = null;
      phase.value = "signedIn";
      void loadNames(claimedTenant, next.uid);
      watchMembership(claimedTenant, next);
    });
  }

  /** Sign out with a reason shown on the sign-in page. */
  async function end(reason: string): Promise<void> {
    if (phase.value !== "signedIn") return;
    error.value = reason;
    await signOut();
    error.value = reason;
  }

  function watchMembership(tenant: string, account: User): void {
    stopWatch?.();
    // The role the directory entry named when this session began: a later change ends the session
    // (the server also revoked its tokens, perhaps a moment after this snapshot arrives).
    let seenRole: string | null = null;
    stopWatch = onSnapshot(
      doc(db(), "tenants", tenant, "agents", account.uid),
      (snapshot) => {
        const data = snapshot.data();
        if (!data || user.value?.uid !== account.uid) return;
        if (data.active === false) {
          void end(DEACTIVATED);
          return;
        }
        const named = typeof data.role === "string" ? data.role : null;
        if (seenRole !== null && named !== null && named !== seenRole) void end(ROLE_CHANGED);
        seenRole = named ?? seenRole;
      },
      () => undefined,
    );
  }

  async function loadNames(tenant: string, id: string): Promise<void> {
    const [tenantDoc, agentDoc] = await Promise.all([
      getDoc(doc(db(), "tenants", tenant)).catch(() => null),
      getDoc(doc(db(), "tenants", tenant, "agents", id)).catch(() => null),
    ]);
    if (tenantId.value !== tenant) return;
    const name = tenantDoc?.data()?.name;
    if (name) tenantName.value = String(name);
    const kind = tenantDoc?.data()?.kind;
    if (kind) tenantKind.value = String(kind);
    const agent = agentDoc?.data()?.name;
    if (agent) agentName.value = String(agent);
  }

  function reset(): void {
    stopWatch?.();
    stopWatch = null;
    user.value = null;
    tenantId.value = null;
    role.value = null;
    tenantName.value = "";
    tenantKind.value = "";
    agentName.value = "";
  }

  async function signIn(email: string, password: string): Promise<void> {
    error.value = null;
    try {
      await signInWithEmailAndPassword(auth(), email.trim(), password);
    } catch (exc) {
      const code = (exc as { code?: string }).code ?? "";
      error.value =
        code === "auth/invalid-credential" || code === "auth/wrong-password" || code === "auth/user-not-found"
          ? "Wrong email or password."
          : code === "auth/user-disabled"
            ? "This account was deactivated. Ask an admin of your workspace."
            : code === "auth/too-many-requests"
              ? "Too many attempts. Wait a moment and try again."
              : code === "auth/network-request-failed"
                ? "Could not reach the sign-in service."
                : "Sign-in failed. Try again.";
      throw exc;
    }
  }

  /** Sign out: the signed-in UI (and with it every Firestore listener) goes first, so no listener
   * sees its permission revoked mid-flight. */
  async function signOut(): Promise<void> {
    phase.value = "signedOut";
    await nextTick();
    await firebaseSignOut(auth());
  }

  return { phase, user, uid, tenantId, role, tenantName, tenantKind, agentName, error, start, signIn, signOut };
});
