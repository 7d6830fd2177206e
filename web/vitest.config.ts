import { defineConfig } from "vitest/config";

// Unit tests (`npm test`): src/**/*.test.ts, next to what they prove. The stores and the embed's
// state run in happy-dom (they use document, window and timers); Firebase is replaced per test file
// by src/testing/fakeFirebase.ts and fetch by its fakeServer, so nothing leaves the process. No Vue
// or Tailwind plugin: no test imports a component (the e2e tests in Chromium cover those).
export default defineConfig({
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts"],
    unstubGlobals: true,
  },
});
