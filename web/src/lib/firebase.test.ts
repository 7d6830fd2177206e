import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", async () => (await import("../testing/fakeFirebase")).appModule);
vi.mock("firebase/auth", async () => (await import("../testing/fakeFirebase")).authModule);
vi.mock("firebase/firestore", async () => (await import("../testing/fakeFirebase")).firestoreModule);

const CONFIG = { projectId: "demo", apiKey: "k", firestoreHost: "127.0.0.1:8080", functions: { send_message: "s", agent_api: "a", create_app: "c", chat_api: "x" } };

/** A fresh copy of lib/firebase (it creates its clients once) and of the fake it talks to. */
async function fresh() {
  vi.resetModules();
  const fake = await import("../testing/fakeFirebase");
  const { initFirebase } = await import("./firebase");
  return { fake, initFirebase };
}

describe("initFirebase", () => {
  beforeEach(() => localStorage.clear());

  it("logs Firestore's listen stream when the browser asks for it (switchboard:debug-firestore)", async () => {
    localStorage.setItem("switchboard:debug-firestore", "1");
    const { fake, initFirebase } = await fresh();
    initFirebase(CONFIG);
    expect(fake.firestoreModule.setLogLevel).toHaveBeenCalledWith("debug");
    expect(fake.firestoreModule.connectFirestoreEmulator).toHaveBeenCalledWith(expect.anything(), "127.0.0.1", 8080);
  });

  it("keeps Firestore's default logging otherwise", async () => {
    const { fake, initFirebase } = await fresh();
    initFirebase(CONFIG);
    expect(fake.firestoreModule.setLogLevel).not.toHaveBeenCalled();
  });
});
