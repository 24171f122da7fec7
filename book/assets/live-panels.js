// Live panels: a chapter page can talk to the learner's running lab server.
//
// A page declares <div class="live-panel" data-server="http://127.0.0.1:3001" data-start="cargo run -p lab-01-transports"></div>
// and a chapter script registers what the panel does with `window.coursePanels.register(name, fn)`.
// Until the server answers, the panel says it is not running and how to start it.
(function () {
  "use strict";
  const registry = {};

  function statusLine(panel, online, text) {
    let status = panel.querySelector(".live-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "live-status";
      panel.prepend(status);
    }
    status.className = "live-status " + (online ? "online" : "offline");
    status.textContent = text;
  }

  async function probe(panel) {
    const server = panel.dataset.server;
    const start = panel.dataset.start || "";
    const health = panel.dataset.health || "/";
    try {
      const response = await fetch(server + health, { mode: "cors" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      statusLine(panel, true, "Connected to your server at " + server + ".");
      return true;
    } catch (_) {
      statusLine(panel, false, "Your lab server is not running at " + server +
        ". Start it in a terminal with `" + start + "`, then this panel connects by itself.");
      return false;
    }
  }

  async function activate(panel) {
    const name = panel.dataset.panel;
    while (!(await probe(panel))) {
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    if (registry[name]) registry[name](panel, panel.dataset.server);
  }

  window.coursePanels = {
    register(name, fn) {
      registry[name] = fn;
    },
  };

  window.addEventListener("load", () => {
    document.querySelectorAll(".live-panel").forEach(activate);
  });
})();
