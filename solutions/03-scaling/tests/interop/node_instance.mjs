// Interop instance: a Node socket.io 4.8 server with @socket.io/redis-adapter 8.3 (the classic
// createAdapter, node-redis 4 clients), joining the Rust instances' cluster on one Redis.
//
// Usage: node node_instance.mjs REDIS_URL KEY PUBLISH_ON_SPECIFIC_RESPONSE_CHANNEL(true|false)
//
// It serves the course's chat contract (join, leave, chat, echo) on namespace "/" and is driven
// by the Rust test (tests/interop.rs) over JSON lines:
// - stdin, one command per line: {"id": N, "op": "...", ...};
// - stdout, one line per answer {"id": N, "ok": true, "result": ...} (or "ok": false, "error"),
//   and one line per observation {"report": "...", ...}: server-side events it received, and
//   every event its socket.io-client sockets received.
// The first line is {"report": "ready", "port": P, "uid": "<this adapter's uid>"}.
//
// It also holds the test's official socket.io-client sockets (op "connect"), to this server
// or to a Rust instance: one process, so that every client-side observation arrives on the
// same ordered stdout as the answers. The script only observes and acts; the Rust test asserts.
//
// Binary values cross the control channel as {"$bin": [bytes]}.
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
let Server, createAdapter, createClient, io;
try {
  ({ Server } = require("socket.io"));
  ({ createAdapter } = require("@socket.io/redis-adapter"));
  ({ createClient } = require("redis"));
  ({ io } = require("socket.io-client"));
} catch (error) {
  fail(
    "cannot load socket.io, @socket.io/redis-adapter, redis or socket.io-client: run " +
      "`cargo xtask verify`, or `npm install --prefix target/interop/node-cluster " +
      "socket.io@4.8 @socket.io/redis-adapter@8.3 redis@4 socket.io-client@4.8` and set " +
      "NODE_PATH=target/interop/node-cluster/node_modules (" + error.message + ")"
  );
}

const [redisUrl, key, specific] = process.argv.slice(2);
if (!redisUrl || !key || !["true", "false"].includes(specific)) {
  fail("usage: node node_instance.mjs REDIS_URL KEY true|false");
}

function fail(message) {
  process.stderr.write("node interop instance: " + message + "\n");
  process.exit(1);
}

function write(value) {
  process.stdout.write(JSON.stringify(value, toWire) + "\n");
}

// Buffers out as {"$bin": [...]}, and back in with fromWire.
function toWire(_key, value) {
  if (value && value.type === "Buffer" && Array.isArray(value.data)) return { $bin: value.data };
  if (value instanceof Set) return [...value];
  return value;
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    if (Array.isArray(value.$bin)) return Buffer.from(value.$bin);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromWire(v)]));
  }
  return value;
}

const pubClient = createClient({ url: redisUrl });
const subClient = pubClient.duplicate();
pubClient.on("error", (e) => process.stderr.write("redis pub: " + e.message + "\n"));
subClient.on("error", (e) => process.stderr.write("redis sub: " + e.message + "\n"));
await Promise.all([pubClient.connect(), subClient.connect()]);

const httpServer = createServer();
const server = new Server(httpServer, {
  adapter: createAdapter(pubClient, subClient, {
    key,
    requestsTimeout: 3000,
    publishOnSpecificResponseChannel: specific === "true",
  }),
});
const nsp = server.of("/");

// The chat contract, as the course's servers implement it.
nsp.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("leave", (room, ack) => {
    socket.leave(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("chat", (message) => {
    if (!message || typeof message !== "object") return;
    const out = { ...message, from: socket.id };
    if (typeof message.room === "string") socket.to(message.room).emit("chat", out);
    else socket.broadcast.emit("chat", out);
  });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

// Server-side events from the other instances: reported; `ask` is answered.
nsp.on("hello", (...args) => write({ report: "server-event", name: "hello", args }));
nsp.on("ask", (...args) => {
  const ack = args.pop();
  write({ report: "server-event", name: "ask", args });
  ack({ from: "node", got: args });
});

const clients = new Map();

function describe(socket) {
  // A RemoteSocket (another instance's) or a local Socket: the fields fetchSockets exposes.
  const { sessionStore, ...handshake } = socket.handshake;
  return { id: socket.id, handshake, rooms: [...socket.rooms], data: socket.data ?? null };
}

function operator(command) {
  let op = nsp;
  for (const room of command.rooms ?? []) op = op.to(room);
  for (const room of command.except ?? []) op = op.except(room);
  return op;
}

function connectClient(name, url, auth, query) {
  const options = { transports: ["websocket"], reconnection: false, forceNew: true, auth, query };
  const socket = io(url, options);
  clients.set(name, socket);
  // Every event, in arrival order; an event that asks for an ack is answered {by, got}.
  socket.onAny((event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    write({ report: "client", name, event, args, ack: ack !== null });
    if (ack) ack({ by: name, got: args });
  });
  socket.on("disconnect", (reason) => write({ report: "client", name, event: "disconnect", args: [reason], ack: false }));
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ sid: socket.id }));
    socket.once("connect_error", (e) => reject(new Error(`${name} could not connect to ${url}: ${e.message}`)));
  });
}

function client(name) {
  const socket = clients.get(name);
  if (!socket) throw new Error(`no client named ${name}`);
  return socket;
}

const ops = {
  connect: (c) => connectClient(c.name, c.url, c.auth ?? {}, c.query ?? {}),
  clientEmit: (c) => {
    client(c.name).emit(c.event, ...fromWire(c.args ?? []));
    return null;
  },
  clientEmitWithAck: (c) => client(c.name).timeout(c.timeout ?? 3000).emitWithAck(c.event, ...fromWire(c.args ?? [])),
  fetchSockets: async (c) => (await operator(c).fetchSockets()).map(describe),
  serverCount: () => nsp.adapter.serverCount(),
  allRooms: async () => [...(await nsp.adapter.allRooms())],
  serverSideEmit: (c) => {
    nsp.serverSideEmit(c.name, ...fromWire(c.args ?? []));
    return null;
  },
  // Waits for every other server, at most the adapter's requestsTimeout.
  serverSideEmitWithAck: (c) => nsp.serverSideEmitWithAck(c.name, ...fromWire(c.args ?? [])),
  socketsJoin: (c) => {
    operator(c).socketsJoin(c.join);
    return null;
  },
  socketsLeave: (c) => {
    operator(c).socketsLeave(c.leave);
    return null;
  },
  disconnectSockets: (c) => {
    operator(c).disconnectSockets(c.close ?? false);
    return null;
  },
  emit: (c) => {
    let op = operator(c);
    if (c.volatile) op = op.volatile;
    op.emit(c.event, ...fromWire(c.args ?? []));
    return null;
  },
  emitWithAck: (c) => operator(c).timeout(c.timeout ?? 3000).emitWithAck(c.event, ...fromWire(c.args ?? [])),
  localRooms: () => [...nsp.adapter.rooms.keys()],
};

// The adapter subscribed in its constructor without waiting; Redis answers one connection's
// commands in order, so once this later SUBSCRIBE is confirmed, the adapter's are too, and
// the other instances count this one in PUBSUB NUMSUB.
await subClient.subscribe(key + "-interop-ready", () => {});

httpServer.listen(0, "127.0.0.1", () => {
  write({ report: "ready", port: httpServer.address().port, uid: nsp.adapter.uid });
});

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    return write({ id: null, ok: false, error: "not JSON: " + line });
  }
  const run = ops[command.op];
  if (!run) return write({ id: command.id, ok: false, error: "unknown op " + command.op });
  try {
    write({ id: command.id, ok: true, result: (await run(command)) ?? null });
  } catch (error) {
    write({ id: command.id, ok: false, error: error.message });
  }
});
// The test closed our stdin (it is done, or it died): leave without waiting for anything.
lines.on("close", () => {
  for (const socket of clients.values()) socket.disconnect();
  process.exit(0);
});
