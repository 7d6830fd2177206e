import { createPinia } from "pinia";
import { createApp } from "vue";

import App from "./App.vue";
import { loadConfig } from "./lib/config";
import { initFirebase } from "./lib/firebase";
import "./style.css";

async function boot(): Promise<void> {
  const root = document.getElementById("app");
  try {
    initFirebase(await loadConfig());
  } catch (exc) {
    if (root) {
      root.innerHTML = "";
      const message = document.createElement("p");
      message.className = "p-8 text-red-700";
      message.setAttribute("role", "alert");
      message.textContent = `Switchboard could not start: ${exc instanceof Error ? exc.message : exc}`;
      root.append(message);
    }
    throw exc;
  }
  createApp(App).use(createPinia()).mount("#app");
}

void boot();
