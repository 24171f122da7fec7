// Interop client: the official socket.io-client (4.8, on Node 20) loses its connection, misses
// messages, comes back, and must say `socket.recovered === true` with every missed message once.
//
// Usage: node recovery_client.mjs RECEIVER_URL SENDER_URL MODE ROUNDS AWAY_MS
//   MODE "self":     the script drops the receiver's transport itself (`engine.close()`).
//   MODE "external": the script prints {"ready": round} and waits for the test to drop it
//                    (the test stops the instance the receiver is on).
//   AWAY_MS: how long the receiver stays away after the messages were sent (0: at once).
//
// The script only observes and prints one JSON line; the Rust test (tests/interop.rs) decides.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
let io;
try {
  ({ io } = require("socket.io-client"));
} catch (error) {
  fail("cannot load socket.io-client (NODE_PATH=target/interop/node/node_modules): " + error.message);
}

const LIMIT_MS = 8000;
const [receiverUrl, senderUrl, mode, roundsText, awayText] = process.argv.slice(2);
const rounds = Number(roundsText);
const awayMs = Number(awayText);
if (!receiverUrl || !senderUrl || !["self", "external"].includes(mode) || !(rounds > 0)) {
  fail("usage: node recovery_client.mjs RECEIVER_URL SENDER_URL self|external ROUNDS AWAY_MS");
}

function fail(message) {
  process.stderr.write("recovery interop client: " + message + "\n");
  process.exit(1);
}

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out after " + LIMIT_MS + " ms waiting for " + what)), LIMIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

function ack(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...answer) => resolve(answer)));
}

// Reconnection by hand: the test decides when the receiver comes back, so that the missed
// messages are sent while it is away. The reconnect itself is the client's normal path: the
// same Socket object sends its pid and last offset in the CONNECT.
const options = { transports: ["websocket"], reconnection: false };
const receiver = io(receiverUrl, options);
const sender = io(senderUrl, options);
const got = [];
receiver.on("chat", (message) => got.push(message.n));

try {
  await within(Promise.all([once(receiver, "connect"), once(sender, "connect")]), "both CONNECTs");
  await within(ack(receiver, "join", "general"), "the receiver's join ack");
  await within(ack(sender, "join", "general"), "the sender's join ack");
  const firstId = receiver.id;
  const live = once(receiver, "chat");
  sender.emit("chat", { room: "general", n: "before" });
  await within(live, "the first live message");

  const result = { firstId, rounds: [] };
  for (let round = 1; round <= rounds; round++) {
    got.length = 0;
    const gone = once(receiver, "disconnect");
    if (mode === "self") {
      receiver.io.engine.close();
    } else {
      process.stdout.write(JSON.stringify({ ready: round }) + "\n");
    }
    const [reason] = await within(gone, "the receiver's disconnect");
    // What the receiver misses: two messages to its room, one to another room, one to all.
    sender.emit("chat", { room: "general", n: `${round}.1` });
    sender.emit("chat", { room: "general", n: `${round}.2` });
    sender.emit("chat", { room: "music", n: `${round}.other-room` });
    sender.emit("chat", { n: `${round}.3` });
    // The sender's packets are handled in order: its echo comes back after its chats.
    await within(ack(sender, "echo", "flushed"), "the sender's echo ack");
    if (awayMs > 0) await new Promise((resolve) => setTimeout(resolve, awayMs));
    const back = once(receiver, "connect");
    receiver.connect();
    await within(back, "the receiver's reconnection");
    const replayed = [...got];
    // A fresh session is in no room: a real client joins again (chapter 5, "recovery").
    if (!receiver.recovered) await within(ack(receiver, "join", "general"), "the join after a fresh session");
    const after = once(receiver, "chat");
    sender.emit("chat", { room: "general", n: `${round}.live` });
    await within(after, "the live message after the reconnection");
    result.rounds.push({ reason, recovered: receiver.recovered, id: receiver.id, replayed, got: [...got] });
  }
  receiver.close();
  sender.close();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
} catch (error) {
  fail(error.message);
}
