// The chat contract's `join` and `chat` (see the course design) on Node's socket.io 4.8: what
// most teams run. `cargo xtask bench socketio` installs socket.io next to it (NODE_PATH) and
// starts it like the course's server: `--addr 127.0.0.1:0`, PING_INTERVAL_MS from the
// environment, and `listening on http://ADDR` on stdout.
"use strict";
const http = require("node:http");
const { Server } = require("socket.io");

const flag = process.argv.indexOf("--addr");
const [host, port] = (flag > 0 ? process.argv[flag + 1] : "127.0.0.1:0").split(":");
const options = { transports: ["websocket", "polling"] };
if (process.env.PING_INTERVAL_MS) options.pingInterval = Number(process.env.PING_INTERVAL_MS);

const server = http.createServer();
const io = new Server(server, options);

// socket.io queues the CONNECT answer (`40{...}`) and runs this listener in the same tick, so the
// handlers are in place before any packet of the client can be read.
io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("chat", (chat) => {
    if (chat === null || typeof chat !== "object") return;
    const relayed = { ...chat, from: socket.id };
    // `to` and `broadcast` on a socket leave the sender out, as the contract asks.
    if (typeof chat.room === "string") socket.to(chat.room).emit("chat", relayed);
    else socket.broadcast.emit("chat", relayed);
  });
});

// TCP_NODELAY, as the course's server sets it: a small frame must not wait for an ACK.
server.on("connection", (tcp) => tcp.setNoDelay(true));
server.listen(Number(port), host, () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});
