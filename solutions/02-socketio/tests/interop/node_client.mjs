// Interop client: the official socket.io-client (4.8, on Node 20) against the course's server.
//
// Usage: node node_client.mjs SERVER_URL SCENARIO
//   SCENARIO: websocket | polling-upgrade | namespaces
//
// The script only *observes*: it drives the clients, waits (every wait has a timeout), and
// prints one JSON line with what it saw. The Rust test (tests/interop.rs) decides what is
// right, so its failure messages can point at the book. The script exits non-zero, with a
// message on stderr, only when it cannot observe at all (connection refused, a timeout).
//
// socket.io-client is found through NODE_PATH (the Rust test points it at
// target/interop/node/node_modules): ES module imports ignore NODE_PATH, so we load the
// CommonJS build with createRequire, which honours it.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
let io;
try {
  ({ io } = require("socket.io-client"));
} catch (error) {
  fail(
    "cannot load socket.io-client: install it with " +
      "`npm install --prefix target/interop/node socket.io-client@4.8` and set " +
      "NODE_PATH=target/interop/node/node_modules (" + error.message + ")"
  );
}

const LIMIT_MS = 5000;
const [url, scenario] = process.argv.slice(2);
if (!url || !scenario) fail("usage: node node_client.mjs SERVER_URL websocket|polling-upgrade|namespaces");

function fail(message) {
  process.stderr.write("node interop client: " + message + "\n");
  process.exit(1);
}

/** Resolves with `promise`, or rejects after LIMIT_MS saying what we waited for. */
function within(promise, what, ms = LIMIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sockets = [];

/** A connected socket; fails with the server's reason on connect_error. */
async function connect(name, path, options) {
  const socket = io(url + path, { reconnection: false, forceNew: true, ...options });
  sockets.push(socket);
  await within(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", (error) =>
        reject(new Error(`${name} could not connect to ${path}: ${error.message}`))
      );
    }),
    `${name} to connect to namespace ${path}`
  );
  return socket;
}

/** Emits with an acknowledgement and resolves with *all* the ack's arguments. */
function ack(socket, what, event, ...args) {
  return within(
    new Promise((resolve, reject) => {
      socket.timeout(LIMIT_MS).emit(event, ...args, (error, ...answer) =>
        error ? reject(new Error(`no ack for ${what}: ${error.message}`)) : resolve(answer)
      );
    }),
    `the ack for ${what}`,
    LIMIT_MS + 500
  );
}

/** Records every `chat` a socket receives, and lets us wait for one matching a test. */
function inbox(socket) {
  const received = [];
  const waiters = [];
  socket.on("chat", (message) => {
    received.push(message);
    for (const waiter of waiters.splice(0)) {
      if (waiter.matches(message)) waiter.resolve();
      else waiters.push(waiter);
    }
  });
  return {
    received,
    /** Waits for a chat with this `text`, and returns everything received so far. */
    async until(text, who) {
      if (!received.some((m) => m && m.text === text)) {
        await within(
          new Promise((resolve) => waiters.push({ matches: (m) => m && m.text === text, resolve })),
          `${who} to receive the chat ${JSON.stringify(text)}`
        );
      }
      return received.splice(0);
    },
  };
}

async function websocketScenario(options) {
  const alice = await connect("alice", "/", options);
  const bob = await connect("bob", "/", options);
  const chloe = await connect("chloe", "/", options);
  const inboxes = { alice: inbox(alice), bob: inbox(bob), chloe: inbox(chloe) };

  const joins = {
    alice_music: await ack(alice, "alice joining music", "join", "music"),
    bob_music: await ack(bob, "bob joining music", "join", "music"),
    chloe_general: await ack(chloe, "chloe joining general", "join", "general"),
  };

  // A chat to a room, then a chat to the whole namespace from the same sender as a fence:
  // the server handles one socket's events in order, so a client that received the fence
  // has received the room message too, if it was ever going to. No sleeping.
  alice.emit("chat", { room: "music", text: "to music", n: 1, nested: { ok: true } });
  alice.emit("chat", { text: "fence 1" });
  const phase1 = {
    bob: await inboxes.bob.until("fence 1", "bob"),
    chloe: await inboxes.chloe.until("fence 1", "chloe"),
  };
  // One more round trip on alice's own socket: anything the server queued for her before
  // answering has arrived by the time the ack does.
  const echo = await ack(alice, "echo", "echo", "a", { b: [1, 2] }, 3, null);
  phase1.alice = inboxes.alice.received.splice(0);

  const leave = await ack(bob, "bob leaving music", "leave", "music");
  alice.emit("chat", { room: "music", text: "after bob left" });
  alice.emit("chat", { text: "fence 2" });
  const phase2 = {
    bob: await inboxes.bob.until("fence 2", "bob"),
    chloe: await inboxes.chloe.until("fence 2", "chloe"),
  };

  return {
    scenario: options.transports ? "websocket" : "polling-upgrade",
    transport: alice.io.engine.transport.name,
    ids: { alice: alice.id, bob: bob.id, chloe: chloe.id },
    joins,
    phase1,
    echo,
    leave,
    phase2,
  };
}

/** Resolves once this socket's Engine.IO session runs over WebSocket (now or after its upgrade). */
function upgradedToWebSocket(socket, who) {
  const engine = socket.io.engine;
  // Checking and listening happen in the same tick, so an upgrade cannot slip in between.
  if (engine.transport.name === "websocket") return Promise.resolve();
  return within(
    new Promise((resolve) => engine.once("upgrade", resolve)),
    `${who}'s upgrade from polling to WebSocket (2probe, 3probe, 6, 5)`
  );
}

async function pollingUpgradeScenario() {
  // Default options: the session opens over HTTP long polling, then upgrades to WebSocket.
  const first = io(url, { reconnection: false, forceNew: true });
  sockets.push(first);
  let openedOn = null;
  first.io.once("open", () => {
    openedOn = first.io.engine.transport.name;
  });
  await within(
    new Promise((resolve, reject) => {
      first.once("connect", resolve);
      first.once("connect_error", (e) => reject(new Error("could not connect: " + e.message)));
    }),
    "the first client to connect with its default transports"
  );
  // Emitted straight away, so it usually travels over polling (or across the upgrade).
  const earlyEcho = await ack(first, "an echo right after connecting", "echo", "early", 1);
  await upgradedToWebSocket(first, "the first client");
  const afterUpgrade = first.io.engine.transport.name;

  // The room scenario again, with three clients on the default transports: their joins and
  // chats cross the polling phase, the upgrade and WebSocket.
  const rooms = await websocketScenario({});
  const transportsAtEnd = [];
  for (const socket of sockets.slice(-3)) {
    await upgradedToWebSocket(socket, "a room client");
    transportsAtEnd.push(socket.io.engine.transport.name);
  }
  return {
    ...rooms,
    scenario: "polling-upgrade",
    opened_on: openedOn,
    early_echo: earlyEcho,
    transport_after_upgrade: afterUpgrade,
    transports_at_end: transportsAtEnd,
  };
}

async function namespacesScenario() {
  const options = { transports: ["websocket"] };
  // The agent's console: /admins and /clients multiplexed on one Engine.IO session
  // (same Manager), as the official client does for two namespaces of one server.
  const agentAdmins = io(url + "/admins", { reconnection: false, forceNew: true, ...options });
  sockets.push(agentAdmins);
  const agentClients = agentAdmins.io.socket("/clients");
  sockets.push(agentClients);
  // Both connects are under way at once: listen to both before awaiting either.
  const connected = (socket, what) =>
    within(
      new Promise((resolve, reject) => {
        if (socket.connected) return resolve();
        socket.once("connect", resolve);
        socket.once("connect_error", (e) => reject(new Error(`${what} failed: ${e.message}`)));
      }),
      what
    );
  await Promise.all([
    connected(agentAdmins, "the agent to connect to /admins"),
    connected(agentClients, "the agent to connect to /clients"),
  ]);
  const otherAgent = await connect("other agent", "/admins", options);
  const customer = await connect("customer", "/clients", options);
  const publicSocket = await connect("public", "/", options);
  const inboxes = { otherAgent: inbox(otherAgent), customer: inbox(customer), public: inbox(publicSocket) };

  agentAdmins.emit("chat", { text: "admins only" });
  agentClients.emit("chat", { text: "fence clients" });
  const otherAgentGot = await inboxes.otherAgent.until("admins only", "the other agent (in /admins)");
  const customerGot = await inboxes.customer.until("fence clients", "the customer (in /clients)");

  const adminsEcho = await ack(agentAdmins, "echo in /admins", "echo", "x", { y: 2 });
  const clientsJoin = await ack(customer, "join in /clients", "join", "general");

  const nope = io(url + "/nope", { reconnection: false, forceNew: true, ...options });
  sockets.push(nope);
  const nopeError = await within(
    new Promise((resolve) => {
      nope.once("connect_error", (error) => resolve({ message: error.message, data: error.data ?? null }));
      nope.once("connect", () => resolve({ message: "connected (no error)", data: null }));
    }),
    "a connect_error for the unknown namespace /nope"
  );

  return {
    scenario: "namespaces",
    same_engine_session: agentAdmins.io === agentClients.io,
    ids: {
      agent_admins: agentAdmins.id,
      agent_clients: agentClients.id,
      other_agent: otherAgent.id,
      customer: customer.id,
    },
    other_agent_got: otherAgentGot,
    customer_got: customerGot,
    public_got: inboxes.public.received.splice(0),
    admins_echo: adminsEcho,
    clients_join: clientsJoin,
    nope_error: nopeError,
  };
}

const scenarios = {
  websocket: () => websocketScenario({ transports: ["websocket"] }),
  "polling-upgrade": pollingUpgradeScenario,
  namespaces: namespacesScenario,
};

if (!scenarios[scenario]) fail(`unknown scenario ${scenario}; use one of ${Object.keys(scenarios).join(", ")}`);

try {
  const result = await scenarios[scenario]();
  process.stdout.write(JSON.stringify(result) + "\n");
} catch (error) {
  fail(`${scenario}: ${error.message}`);
} finally {
  for (const socket of sockets) socket.disconnect();
}
process.exit(0);
