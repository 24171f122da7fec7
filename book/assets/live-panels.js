// Live panels: a chapter page can talk to the learner's running lab server.
//
// A page declares
//   <div class="live-panel" data-panel="NAME" data-server="http://127.0.0.1:3001"
//        data-start="cargo run -p lab-01-transports" data-checks='[...]' data-steps='...'></div>
// and registers what the panel does, in an inline script, with
//   (window.coursePanelQueue = window.coursePanelQueue || []).push(["NAME", (panel, server) => {...}]);
// mdBook loads this file after the page's content, so a page cannot call us directly while it
// is parsed: it queues its registration, and we drain the queue (and accept later pushes).
//
// Before running a panel we check, in order, that the server answers at all, then that each
// step the panel needs is done (data-checks: what to ask, and which step answers it; data-steps:
// the steps' titles and pages, from the lab's steps.toml via {{#steps-json LAB}}). The first
// check that fails is what the panel says: "not running, start it with ...", or "step N is not
// done yet: TITLE, see PAGE".
//
// `?server=http://127.0.0.1:PORT` in the page's address points every panel of the page at
// another local server (a lab started with --addr, or a test's server on port 0).
(function () {
  "use strict";
  const registry = {};
  const LOCAL = /^http:\/\/(127\.0\.0\.1|localhost):\d{1,5}$/;
  const LIMIT_MS = 3000;

  function serverOf(panel) {
    const asked = new URLSearchParams(window.location.search).get("server");
    return asked && LOCAL.test(asked) ? asked : panel.dataset.server;
  }

  function statusLine(panel, state, build) {
    let status = panel.querySelector(".live-status");
    if (!status) {
      status = document.createElement("p");
      panel.prepend(status);
    }
    status.className = "live-status " + state;
    status.replaceChildren();
    build(status);
    panel.dataset.liveState = state;
  }

  // One check over HTTP: {"http": "POST /messages", "body": "...", "status": [422]}.
  async function httpCheck(server, check) {
    const [method, path] = check.http.split(" ");
    const init = { method, mode: "cors", signal: AbortSignal.timeout(LIMIT_MS) };
    if (check.body !== undefined) {
      init.body = check.body;
      init.headers = { "content-type": "application/json" };
    }
    const response = await fetch(server + path, init);
    // A stream (SSE) answers with its headers first: that is all we need.
    if (response.body) response.body.cancel().catch(() => {});
    const wanted = check.status || [200];
    return wanted.includes(response.status);
  }

  // One check over WebSocket: {"ws": "/path", "send": ["40"], "expect": "40{"}: the frames are
  // sent once open, and some frame received must start with `expect`.
  function wsCheck(server, check) {
    return new Promise((resolve) => {
      const ws = new WebSocket(server.replace(/^http/, "ws") + check.ws);
      const done = (ok) => {
        clearTimeout(timer);
        ws.onclose = ws.onerror = ws.onmessage = null;
        ws.close();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), LIMIT_MS);
      ws.onopen = () => (check.send || []).forEach((frame) => ws.send(frame));
      ws.onmessage = (event) => {
        if (String(event.data).startsWith(check.expect)) done(true);
      };
      ws.onclose = ws.onerror = () => done(false);
    });
  }

  async function passes(server, check) {
    try {
      return await (check.ws !== undefined ? wsCheck(server, check) : httpCheck(server, check));
    } catch (_) {
      // A lab's todo!() panics in the handler: the connection closes without an answer.
      return false;
    }
  }

  async function running(server, panel) {
    try {
      await fetch(server + (panel.dataset.health || "/"), {
        mode: "cors",
        signal: AbortSignal.timeout(LIMIT_MS),
      });
      return true;
    } catch (_) {
      return false;
    }
  }

  function parsed(text, fallback) {
    try {
      return text ? JSON.parse(text) : fallback;
    } catch (_) {
      return fallback;
    }
  }

  // The step a panel still needs, or null when every check passes.
  async function missingStep(server, panel) {
    for (const check of parsed(panel.dataset.checks, [])) {
      if (!(await passes(server, check))) return check.step;
    }
    return null;
  }

  async function probe(panel, server) {
    if (!(await running(server, panel))) {
      statusLine(panel, "offline", (p) => {
        p.append("Your lab server is not running at " + server + ". Start it in a terminal with ");
        const code = document.createElement("code");
        code.textContent = panel.dataset.start || "cargo run -p lab-...";
        p.append(code, ", then this panel connects by itself.");
      });
      return false;
    }
    const step = await missingStep(server, panel);
    if (step !== null && step !== undefined) {
      const info = parsed(panel.dataset.steps, {})[step] || {};
      statusLine(panel, "unfinished", (p) => {
        p.append("Your server at " + server + " is running, but step " + step +
          " is not done yet" + (info.title ? ": " + info.title : "") + ".");
        if (info.page) {
          const link = document.createElement("a");
          link.href = info.page;
          link.textContent = info.pageTitle || info.page;
          p.append(" See ", link, ". This panel connects once the step works.");
        }
      });
      return false;
    }
    statusLine(panel, "online", (p) => p.append("Connected to your server at " + server + "."));
    return true;
  }

  async function activate(panel) {
    const server = serverOf(panel);
    while (!(await probe(panel, server))) {
      await new Promise((resolve) => setTimeout(resolve, LIMIT_MS));
    }
    const run = () => registry[panel.dataset.panel](panel, server);
    if (registry[panel.dataset.panel]) run();
    else panel.pendingRun = run;
  }

  function register(name, fn) {
    registry[name] = fn;
    document.querySelectorAll('.live-panel[data-panel="' + name + '"]').forEach((panel) => {
      if (panel.pendingRun) {
        const run = panel.pendingRun;
        delete panel.pendingRun;
        run();
      }
    });
  }

  window.coursePanels = { register };
  // Registrations queued before we loaded, and any pushed later.
  const queue = window.coursePanelQueue || [];
  queue.forEach(([name, fn]) => register(name, fn));
  window.coursePanelQueue = { push: ([name, fn]) => register(name, fn) };

  function start() {
    document.querySelectorAll(".live-panel").forEach(activate);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
