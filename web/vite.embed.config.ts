import { fileURLToPath } from "node:url";

import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// The embeddable chat (src/embed/): ONE self-contained classic script, dist/embed/switchboard-chat.js,
// that defines window.SwitchboardChat. Developers' pages load it with a plain <script> tag, so: an
// IIFE (no modules, no chunks to fetch), Vue and the Firebase SDK bundled in, the CSS inlined
// (imported with ?inline and injected into each widget's shadow root, never the host page).
// Runs after the dashboard's build (package.json "build") and must not wipe it: emptyOutDir false.

export default defineConfig({
  // No Tailwind here: its output relies on @property rules, which shadow roots ignore.
  plugins: [vue({ features: { optionsAPI: false, prodDevtools: false } })],
  // Library mode leaves process.env.NODE_ENV for a consumer's bundler; a <script> tag has none.
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: false,
    copyPublicDir: false,
    target: "es2020",
    sourcemap: false,
    cssCodeSplit: false,
    // Firebase Auth + Firestore are most of it; one file by design (no chunks to fetch from a
    // third-party page). Measured in web/README.md.
    chunkSizeWarningLimit: 700,
    lib: {
      entry: fileURLToPath(new URL("./src/embed/main.ts", import.meta.url)),
      name: "SwitchboardChat",
      formats: ["iife"],
      fileName: () => "embed/switchboard-chat.js",
    },
  },
});
