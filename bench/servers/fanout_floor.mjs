// The floor of the fan-out benchmark: what the runtime's own TCP sockets cost for the same work,
// with no WebSocket library. It answers the opening handshake with a minimal 101, reads client
// frames with the least parsing that is still correct for wsload's traffic (lengths, masks,
// close and ping), and writes each data message, framed once into one buffer, to every open
// socket with `socket.write`, like a `for … send` loop without a library in between. No limits,
// no UTF-8 check, no backpressure: it is a ceiling to measure against, not a server to use.
// Runs on Node, Deno and Bun through node:net.
//
//   node bench/servers/fanout_floor.mjs 9001

import net from "node:net";
import { createHash } from "node:crypto";

const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const open = new Set();

/** A server frame (FIN set, unmasked) of `opcode` around `payload`, in one buffer. */
function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(out, head);
  return out;
}

function onFrame(socket, opcode, payload) {
  if (opcode === 0x1 || opcode === 0x2) {
    const bytes = frame(opcode, payload);
    for (const s of open) s.write(bytes);
  } else if (opcode === 0x8) {
    open.delete(socket);
    socket.end(frame(0x8, payload.subarray(0, 2)));
  } else if (opcode === 0x9) socket.write(frame(0xa, payload));
}

/** Reads whole masked frames out of `pending`; returns the unread rest. */
function readFrames(socket, pending) {
  let at = 0;
  for (;;) {
    if (pending.length - at < 2) break;
    const opcode = pending[at] & 0x0f;
    let n = pending[at + 1] & 0x7f;
    let head = 2;
    if (n === 126) {
      if (pending.length - at < 4) break;
      n = pending.readUInt16BE(at + 2);
      head = 4;
    } else if (n === 127) {
      if (pending.length - at < 10) break;
      n = Number(pending.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (pending.length - at < head + 4 + n) break;
    const mask = pending.subarray(at + head, at + head + 4);
    const payload = pending.subarray(at + head + 4, at + head + 4 + n);
    for (let i = 0; i < n; i++) payload[i] ^= mask[i & 3];
    onFrame(socket, opcode, payload);
    at += head + 4 + n;
  }
  return at === pending.length ? undefined : pending.subarray(at);
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let head = "";
  let pending;
  const onHead = (chunk) => {
    head += chunk.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    socket.off("data", onHead);
    const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    open.add(socket);
    const rest = Buffer.from(head.slice(end + 4), "latin1");
    socket.on("data", (data) => {
      pending = readFrames(socket, pending === undefined ? data : Buffer.concat([pending, data]));
    });
    if (rest.length > 0) pending = readFrames(socket, rest);
  };
  socket.on("data", onHead);
  socket.on("close", () => open.delete(socket));
  socket.on("error", () => {});
});
server.listen(port, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
