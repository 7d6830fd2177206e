import { beforeEach, describe, expect, it, vi } from "vitest";

import { fakeServer, type Call } from "../testing/fakeFirebase";
import { resolveConfig } from "./config";

const SERVED = {
  projectId: "demo",
  apiKey: "web-key",
  authHost: "127.0.0.1:9099",
  firestoreHost: "127.0.0.1:8080",
  functions: { chat_api: "http://chat.test/api//" },
};

let server: ReturnType<typeof fakeServer>;
let route: (call: Call) => { status: number; body?: unknown } | Error;
// The served config is cached per origin for the page's life: each test uses an origin of its own.
let origin = 0;
const nextOrigin = () => `http://site${++origin}.test`;

beforeEach(() => {
  route = () => ({ status: 200, body: SERVED });
  server = fakeServer((call) => route(call));
  vi.stubGlobal("fetch", server.fetch);
});

describe("the widget's settings", () => {
  it("need only the appId: the rest comes from /config.json beside the script", async () => {
    const site = nextOrigin();

    const config = await resolveConfig({ appId: " app1 " }, site);

    expect(config).toEqual({
      appId: "app1",
      projectId: "demo",
      apiKey: "web-key",
      apiUrl: "http://chat.test/api",
      authHost: "127.0.0.1:9099",
      firestoreHost: "127.0.0.1:8080",
    });
    expect(server.calls[0].url).toBe(`${site}/config.json`);
    expect(server.calls[0].init).toMatchObject({ cache: "no-store", credentials: "omit" });
  });

  it("fields the page gives win over the served ones", async () => {
    const config = await resolveConfig({ apiKey: "page-key", firestoreHost: " " }, nextOrigin());

    expect(config.apiKey).toBe("page-key");
    expect(config.projectId).toBe("demo");
    expect(config.firestoreHost).toBe("127.0.0.1:8080"); // blank counts as not given
  });

  it("a complete config reads nothing (and no emulators appear from nowhere)", async () => {
    const config = await resolveConfig({ projectId: "p", apiKey: "k", apiUrl: "https://chat.example/" }, null);

    expect(config).toEqual({ appId: undefined, projectId: "p", apiKey: "k", apiUrl: "https://chat.example", authHost: undefined, firestoreHost: undefined });
    expect(server.calls).toEqual([]);
  });

  it("one fetch per origin, however many widgets mount", async () => {
    const site = nextOrigin();

    await Promise.all([resolveConfig({}, site), resolveConfig({ appId: "a" }, site)]);
    await resolveConfig({}, site);

    expect(server.calls).toHaveLength(1);
  });

  it("a failed fetch is not remembered: the next mount tries again", async () => {
    const site = nextOrigin();
    route = () => ({ status: 503 });
    await expect(resolveConfig({}, site)).rejects.toThrow(`could not load ${site}/config.json (HTTP 503)`);

    route = () => new Error("offline");
    await expect(resolveConfig({}, site)).rejects.toThrow(`could not reach ${site}/config.json`);

    route = () => ({ status: 200, body: SERVED });
    await expect(resolveConfig({}, site)).resolves.toMatchObject({ projectId: "demo" });
    expect(server.calls).toHaveLength(3);
  });

  it("says what is missing when neither the page nor the server has it", async () => {
    await expect(resolveConfig({ appId: "a" }, null)).rejects.toThrow(
      "config lacks projectId, apiKey or apiUrl, and the script's origin (to read /config.json from) is unknown",
    );

    route = () => ({ status: 200, body: { projectId: "demo", apiKey: "k" } });
    await expect(resolveConfig({}, nextOrigin())).rejects.toThrow("no projectId, apiKey or chat API URL in the config or in /config.json");
  });
});
