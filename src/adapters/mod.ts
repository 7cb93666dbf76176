/**
 * The transport contract, for writing an adapter: a {@linkcode Transport} is one accepted socket
 * as the core drives it, a {@linkcode TransportSink} what the core gives back to hear from it, and
 * {@linkcode byteStreams} builds web streams over a transport for those who want them.
 *
 * @example An adapter's accept callback that echoes through streams
 * ```ts
 * import { byteStreams, type Transport, type TransportSink } from "@netws/server/adapter";
 *
 * function accept(transport: Transport): TransportSink {
 *   const { readable, writable, sink } = byteStreams(transport);
 *   readable
 *     .pipeThrough(new TransformStream<Uint8Array, Uint8Array[]>({
 *       transform: (chunk, controller) => controller.enqueue([chunk]),
 *     }))
 *     .pipeTo(writable)
 *     .catch(() => transport.destroy());
 *   return sink;
 * }
 * void accept;
 * ```
 *
 * @module
 */

export type {
  Listen,
  Listener,
  ListenOptions,
  RemoteAddress,
  TlsOptions,
  Transport,
  TransportSink,
  UpgradeTarget,
} from "../connection/transport.ts";
export {
  type ByteStreams,
  byteStreams,
  type ByteStreamsOptions,
} from "../connection/byte_streams.ts";
