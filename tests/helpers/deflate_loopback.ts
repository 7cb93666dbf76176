/**
 * A loopback WebSocket server made only of the permessage-deflate building blocks: the handshake
 * parser, negotiatePerMessageDeflate, DeflateSender and MessageInflater over the zlib codec. It
 * answers a plain GET with a small page (for a browser), sends each connection the given text
 * messages and collects what comes back, so that a real client's offer, its acceptance of the
 * answer and the compressed data both ways can be checked before serve() speaks the extension.
 * Client frames are read by hand: the core parser does not take RSV1 yet.
 */
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { zlibCompression } from "../../src/adapters/zlib/mod.ts";
import { DeflateSender } from "../../src/connection/deflate_sender.ts";
import { type CompressedMessage, MessageInflater } from "../../src/connection/message_inflater.ts";
import {
  negotiatePerMessageDeflate,
  type PerMessageDeflateOptions,
} from "../../src/handshake/permessage_deflate.ts";
import { parseRequestHead } from "../../src/handshake/request_head.ts";
import { buildAcceptResponse, validateUpgrade } from "../../src/handshake/upgrade.ts";
import { applyMask } from "../../src/protocol/mask.ts";
import type { Message } from "../../src/protocol/message_assembler.ts";
import { concat } from "./bytes.ts";

const encoder = new TextEncoder();

/** What the loopback server saw and got back. */
export interface Session {
  offer: string | undefined;
  response: string | undefined;
  echoed: string[];
  /** How many echoes the browser sent compressed. */
  compressedEchoes: number;
  /** The frames of each message sent: RSV1 of each. */
  sentFrames: boolean[][];
  done: Promise<void>;
}

/** RSV1 of each unmasked frame in `bytes` (what the server wrote for one message). */
function rsv1s(bytes: Uint8Array): boolean[] {
  const flags: boolean[] = [];
  let at = 0;
  while (at < bytes.length) {
    flags.push((bytes[at]! & 0x40) !== 0);
    const length7 = bytes[at + 1]! & 0x7f;
    const view = new DataView(bytes.buffer, bytes.byteOffset + at);
    const [size, header] = length7 === 126
      ? [view.getUint16(2), 4]
      : length7 === 127
      ? [view.getUint32(6), 10]
      : [length7, 2];
    at += header + size;
  }
  return flags;
}

/** A masked client frame, read back. */
interface ClientFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** Reads masked client frames from a byte stream, by hand: the core parser does not take RSV1. */
class ClientFrames {
  #buffer: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array, onFrame: (frame: ClientFrame) => void): void {
    this.#buffer = concat([this.#buffer, chunk]);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = (b[2]! << 8) | b[3]!;
        at = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = new DataView(b.buffer, b.byteOffset).getUint32(6);
        at = 10;
      }
      if (b.length < at + 4 + length) return;
      assert.equal(b[1]! & 0x80, 0x80, "a client masks");
      const payload = b.slice(at + 4, at + 4 + length);
      applyMask(payload, b.subarray(at, at + 4));
      assert.equal(b[0]! & 0x30, 0, "RSV2 and RSV3 stay clear");
      onFrame({
        fin: (b[0]! & 0x80) !== 0,
        rsv1: (b[0]! & 0x40) !== 0,
        opcode: b[0]! & 0x0f,
        payload,
      });
      this.#buffer = b.subarray(at + 4 + length);
    }
  }
}

/** Starts the loopback server; its one session sends `messages` and collects the echoes. */
export function startDeflateServer(
  messages: readonly string[],
  options: PerMessageDeflateOptions = {},
): Promise<{ close(): Promise<void>; port: number; session: Session }> {
  let finish!: () => void;
  let failed!: (error: unknown) => void;
  const session: Session = {
    offer: undefined,
    response: undefined,
    echoed: [],
    compressedEchoes: 0,
    sentFrames: [],
    done: new Promise((resolve, reject) => {
      finish = resolve;
      failed = reject;
    }),
  };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head: Uint8Array = new Uint8Array(0);
    let open = false;
    const frames = new ClientFrames();
    const factory = zlibCompression();
    let onData = (_chunk: Uint8Array): void => {};
    socket.on("data", (chunk: Uint8Array) => {
      try {
        if (open) return onData(chunk);
        head = concat([head, chunk]);
        const request = parseRequestHead(head, 16384);
        if (request === undefined) return;
        if ((request.headers.get("upgrade") ?? "") === "") {
          const page = "<!doctype html><title>permessage-deflate</title>";
          socket.end(
            `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\nConnection: close\r\n\r\n${page}`,
          );
          return;
        }
        const upgrade = validateUpgrade(request);
        session.offer = upgrade.extensions;
        const agreed = negotiatePerMessageDeflate(upgrade.extensions, options);
        assert.ok(agreed, `accepted the offer ${JSON.stringify(upgrade.extensions)}`);
        session.response = agreed.response;
        socket.write(buildAcceptResponse(upgrade.key, {
          headers: { "Sec-WebSocket-Extensions": agreed.response },
        }));
        open = true;
        const { params } = agreed;
        const compressor = factory.createCompressor({
          windowBits: params.serverMaxWindowBits,
          memLevel: 5,
          level: 6,
          noContextTakeover: params.serverNoContextTakeover,
        });
        const decompressor = factory.createDecompressor({
          windowBits: params.clientMaxWindowBits,
          noContextTakeover: params.clientNoContextTakeover,
        });
        const sender = new DeflateSender({
          compressor,
          threshold: 128,
          fragmentSize: 1000,
          write: (parts) => {
            const bytes = concat(parts);
            session.sentFrames.push(rsv1s(bytes));
            socket.write(bytes);
          },
          fail: failed,
        });
        const inflater = new MessageInflater({
          decompressor,
          maxMessageSize: 1 << 20,
          deliver: (message: Message) => {
            if (message.type !== "text") return failed(new Error(`unexpected ${message.type}`));
            session.echoed.push(message.data);
            if (session.echoed.length === messages.length) {
              compressor.close();
              decompressor.close();
              finish();
            }
          },
          fail: failed,
          pause: () => socket.pause(),
          resume: () => socket.resume(),
        });
        let parts: Uint8Array[] = [];
        let compressed = false;
        onData = (bytes) =>
          frames.push(bytes, (frame) => {
            if (frame.opcode >= 0x8) return; // the page sends no control frames here
            if (frame.opcode !== 0x0) compressed = frame.rsv1;
            else assert.equal(frame.rsv1, false, "RSV1 only on the first frame (RFC 7692 §6.1)");
            parts.push(frame.payload);
            if (!frame.fin) return;
            const message: CompressedMessage | Message = compressed
              ? { type: "text", compressed: true, parts }
              : { type: "text", data: new TextDecoder().decode(concat(parts)) };
            parts = [];
            if (compressed) session.compressedEchoes++;
            inflater.push(message);
          });
        const rest = head.subarray(request.headLength);
        if (rest.length > 0) onData(rest);
        for (const text of messages) sender.send(0x1, encoder.encode(text));
      } catch (error) {
        failed(error);
      }
    });
  });
  // Sockets first: a server closes only once its connections have.
  const close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({ close, port, session });
    });
  });
}
