// A Socket.IO v5 client in plain JS, written for the course: WebSocket transport only,
// Engine.IO v4 and Socket.IO v5 spoken by hand so every frame is visible in the log.
// Not a replacement for socket.io-client: no polling, no reconnection, no binary.
"use strict";

class CourseSocket {
  // url: "http://127.0.0.1:3002"; nsp: "/" or "/admins"; auth: sent with the CONNECT.
  constructor(url, nsp = "/", auth = null, onFrame = () => {}) {
    this.nsp = nsp;
    this.auth = auth;
    this.onFrame = onFrame; // (direction, text) for the frame log
    this.handlers = new Map();
    this.acks = new Map();
    this.nextAck = 0;
    this.id = null;
    const ws = url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket";
    this.ws = new WebSocket(ws);
    this.ws.onmessage = (e) => this.onEngineFrame(e.data);
    this.ws.onclose = () => this.fire("disconnect", ["transport close"]);
  }

  on(event, handler) {
    this.handlers.set(event, handler);
    return this;
  }

  fire(event, args) {
    const handler = this.handlers.get(event);
    if (handler) handler(...args);
  }

  send(text) {
    this.onFrame(">", text);
    this.ws.send(text);
  }

  // Engine.IO: 0 open, 2 ping (answered 3), 4 message, 1 close.
  onEngineFrame(text) {
    this.onFrame("<", text);
    switch (text[0]) {
      case "0": {
        const prefix = this.nsp === "/" ? "" : this.nsp + ",";
        this.send("40" + prefix + (this.auth ? JSON.stringify(this.auth) : ""));
        break;
      }
      case "2":
        this.send("3");
        break;
      case "4":
        this.onPacket(text.slice(1));
        break;
      case "1":
        this.ws.close();
        break;
    }
  }

  // Socket.IO: <type>[<nsp>,][<id>][<json>]
  onPacket(text) {
    const type = text[0];
    let rest = text.slice(1);
    let nsp = "/";
    if (rest.startsWith("/")) {
      const comma = rest.indexOf(",");
      nsp = comma < 0 ? rest : rest.slice(0, comma);
      rest = comma < 0 ? "" : rest.slice(comma + 1);
    }
    if (nsp !== this.nsp) return;
    const digits = /^\d*/.exec(rest)[0];
    const id = digits ? Number(digits) : null;
    const data = rest.length > digits.length ? JSON.parse(rest.slice(digits.length)) : undefined;
    switch (type) {
      case "0":
        this.id = data.sid;
        this.fire("connect", []);
        break;
      case "4":
        this.fire("connect_error", [data]);
        break;
      case "1":
        this.fire("disconnect", ["io server disconnect"]);
        break;
      case "2": {
        const [event, ...args] = data;
        if (id !== null) args.push((...reply) => this.sendPacket("3", id, reply));
        this.fire(event, args);
        break;
      }
      case "3": {
        const ack = this.acks.get(id);
        this.acks.delete(id);
        if (ack) ack(...data);
        break;
      }
    }
  }

  sendPacket(type, id, data) {
    const prefix = this.nsp === "/" ? "" : this.nsp + ",";
    this.send("4" + type + prefix + (id === null ? "" : id) + JSON.stringify(data));
  }

  // emit("chat", {text}) or emit("join", "music", (ok) => ...): a last function asks for an ack.
  emit(event, ...args) {
    let id = null;
    if (typeof args[args.length - 1] === "function") {
      id = this.nextAck++;
      this.acks.set(id, args.pop());
    }
    this.sendPacket("2", id, [event, ...args]);
  }

  close() {
    this.ws.close();
  }
}

if (typeof window !== "undefined") window.CourseSocket = CourseSocket;
