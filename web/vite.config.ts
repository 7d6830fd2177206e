import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import tailwindcss from "@tailwindcss/vite";
import vue from "@vitejs/plugin-vue";
import { defineConfig, type Plugin } from "vite";

// The same build serves development, tests and production: runtime settings (project, emulator
// hosts, function URLs) come from /config.json, fetched at start-up, never baked in here.
// infra/local/dashboard.py serves the built app with a generated /config.json.

const STACK_STATE = fileURLToPath(new URL("../.local/stack.json", import.meta.url));

/** `npm run dev` (hot reload): /config.json from the stack `make dev` is running. */
function localStackConfig(): Plugin {
  return {
    name: "switchboard-local-config",
    apply: "serve",
    configureServer(server) {
      server.middlewares.use("/config.json", (_req, res) => {
        if (!existsSync(STACK_STATE)) {
          res.statusCode = 503;
          res.end(JSON.stringify({ error: "start the local stack first: make dev" }));
          return;
        }
        const state = JSON.parse(readFileSync(STACK_STATE, "utf8"));
        res.setHeader("Content-Type", "application/json");
        res.setHeader("Cache-Control", "no-store");
        res.end(
          JSON.stringify({
            projectId: state.env.GOOGLE_CLOUD_PROJECT,
            apiKey: "fake-api-key",
            authHost: state.env.FIREBASE_AUTH_EMULATOR_HOST,
            firestoreHost: state.env.FIRESTORE_EMULATOR_HOST,
            functions: {
              send_message: state.functions.send_message,
              agent_api: state.functions.agent_api,
              create_app: state.functions.create_app,
              chat_api: state.functions.chat_api,
            },
          }),
        );
      });
    },
  };
}

export default defineConfig({
  plugins: [vue(), tailwindcss(), localStackConfig()],
  server: { host: "127.0.0.1" },
  build: {
    target: "es2022",
    sourcemap: false,
    // The Firebase SDK (most of the bytes) changes far less often than the app: its own chunk
    // stays cached across dashboard releases.
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            // Web push (firebase/messaging) loads only when an agent turns notifications on
            // (lib/webPush.ts imports it on demand): left out of the group, with the installations
            // SDK only it uses, it gets a chunk of its own, off the sign-in path.
            { name: "firebase", test: /node_modules[\\/](@firebase|firebase)[\\/](?!(messaging|installations)[\\/])/ },
            { name: "vue", test: /node_modules[\\/](@vue|vue|pinia)[\\/]/ },
          ],
        },
      },
    },
  },
});
