// Interop client: the official socket.io-client (4.8, on Node 20) over wss:// against the
// chapter 4 server, with a token, and once with a token the server must refuse.
//
// Usage: node wss_client.mjs SERVER_URL GOOD_TOKEN EXPIRED_TOKEN
// The certificate is trusted through NODE_EXTRA_CA_CERTS (the test generates it), as a company
// CA would be: no `rejectUnauthorized: false`, so a wrong certificate fails here.
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

const LIMIT_MS = 5000;
const [url, goodToken, expiredToken] = process.argv.slice(2);
if (!url || !goodToken || !expiredToken) fail("usage: node wss_client.mjs SERVER_URL GOOD_TOKEN EXPIRED_TOKEN");

function fail(message) {
  process.stderr.write("wss interop client: " + message + "\n");
  process.exit(1);
}

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out after " + LIMIT_MS + " ms waiting for " + what)), LIMIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Connects and resolves with the socket, or with the connect_error it got. */
function connect(token) {
  const socket = io(url, { transports: ["websocket"], auth: { token }, reconnection: false });
  return new Promise((resolve) => {
    socket.on("connect", () => resolve({ socket }));
    socket.on("connect_error", (error) => resolve({ socket, error }));
  });
}

try {
  const good = await within(connect(goodToken), "the CONNECT with a valid token");
  const result = {};
  if (good.error) {
    result.good = { error: good.error.message, data: good.error.data ?? null };
  } else {
    // A callback, not emitWithAck: that resolves with the first argument only.
    const acked = new Promise((resolve) => good.socket.emit("echo", "over tls", { n: 1 }, (...args) => resolve(args)));
    const echo = await within(acked, "the echo ack");
    result.good = { id: good.socket.id, transport: good.socket.io.engine.transport.name, echo };
  }
  good.socket.close();
  const expired = await within(connect(expiredToken), "the CONNECT with an expired token");
  result.expired = expired.error
    ? { error: expired.error.message, data: expired.error.data ?? null }
    : { id: expired.socket.id };
  expired.socket.close();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
} catch (error) {
  fail(error.message);
}
