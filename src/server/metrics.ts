/**
 * Counters for operators: what a server has done since it started, as a plain object the
 * application can export ({@linkcode Metrics.snapshot}), and {@linkcode formatPrometheus} to
 * serve it in the Prometheus text exposition format (version 0.0.4).
 *
 * @module
 */

import type { ConnectionMetrics } from "../connection/settings.ts";

/** The figures of a {@linkcode Metrics}, at one moment: plain data, safe to serialize. */
export interface MetricsSnapshot {
  /** Connections open now (after the opening handshake, before close). */
  connectionsOpen: number;
  /** Connections opened since the start. */
  connectionsOpened: number;
  /** Data messages received from clients. */
  messagesIn: number;
  /** Data messages sent to clients, each subscriber a publish reached counted once. */
  messagesOut: number;
  /**
   * Bytes of the WebSocket frames received after the opening handshake: headers, control
   * frames and compressed payloads as they came.
   */
  bytesIn: number;
  /**
   * Bytes of the WebSocket frames queued to send after the opening handshake, every subscriber
   * of a publish counted: headers, control frames and compressed payloads as they go.
   */
  bytesOut: number;
  /**
   * Messages compressed: each message a connection compressed with its own context, and once
   * per group of `server_no_context_takeover` subscribers a publish was shared by.
   */
  compressions: number;
  /** Publishes: local calls of `publish`, and envelopes that came from the backplane. */
  publishes: number;
  /** Messages not sent to a subscriber because it was over its buffer mark. */
  drops: number;
  /** Envelopes handed to the backplane. */
  backplaneOut: number;
  /** Envelopes received from the backplane. */
  backplaneIn: number;
  /** Failures the backplane reported. */
  backplaneErrors: number;
  /** Closed connections by close code (1006 when no close frame was exchanged). */
  closeCodes: Record<string, number>;
}

/**
 * The server's counters. Recording is a field increment, cheap enough for every message and
 * chunk; read them with {@linkcode Metrics.snapshot}. A server counts into its own (see
 * `server.metrics`); an application may count into another.
 *
 * @example Count a connection's life and read the figures
 * ```ts
 * import { Metrics } from "@netws/server";
 * import assert from "node:assert/strict";
 *
 * const metrics = new Metrics();
 * metrics.connectionOpened();
 * metrics.received(11); // a masked frame of "Hello"
 * metrics.messageIn();
 * metrics.sent(3 * 7); // its unmasked frame, queued for 3 subscribers
 * metrics.messageOut(3);
 * metrics.connectionClosed(1000);
 * const snapshot = metrics.snapshot();
 * assert.equal(snapshot.connectionsOpen, 0);
 * assert.equal(snapshot.messagesOut, 3);
 * assert.equal(snapshot.bytesOut, 21);
 * assert.deepEqual(snapshot.closeCodes, { "1000": 1 });
 * ```
 */
export class Metrics implements ConnectionMetrics {
  #connectionsOpen = 0;
  #connectionsOpened = 0;
  #messagesIn = 0;
  #messagesOut = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #compressions = 0;
  #publishes = 0;
  #drops = 0;
  #backplaneOut = 0;
  #backplaneIn = 0;
  #backplaneErrors = 0;
  #closeCodes = new Map<number, number>();

  /** A connection finished its opening handshake. */
  connectionOpened(): void {
    this.#connectionsOpen++;
    this.#connectionsOpened++;
  }

  /** An open connection closed with `code` (1006 when no close frame was exchanged). */
  connectionClosed(code: number): void {
    this.#connectionsOpen--;
    this.#closeCodes.set(code, (this.#closeCodes.get(code) ?? 0) + 1);
  }

  /** A data message arrived. */
  messageIn(): void {
    this.#messagesIn++;
  }

  /** A data message was queued for `count` connections. */
  messageOut(count = 1): void {
    this.#messagesOut += count;
  }

  /** `bytes` of frames arrived. */
  received(bytes: number): void {
    this.#bytesIn += bytes;
  }

  /** `bytes` of frames were queued to send. */
  sent(bytes: number): void {
    this.#bytesOut += bytes;
  }

  /** A message was compressed. */
  compressed(): void {
    this.#compressions++;
  }

  /** A publish was fanned out here (from `publish` or from the backplane). */
  published(): void {
    this.#publishes++;
  }

  /** `count` subscribers skipped a message for being over their buffer mark. */
  dropped(count = 1): void {
    this.#drops += count;
  }

  /** An envelope went to the backplane. */
  backplaneSent(): void {
    this.#backplaneOut++;
  }

  /** An envelope came from the backplane. */
  backplaneReceived(): void {
    this.#backplaneIn++;
  }

  /** The backplane reported a failure. */
  backplaneFailed(): void {
    this.#backplaneErrors++;
  }

  /** The figures now, as a new plain object (later counting does not change it). */
  snapshot(): MetricsSnapshot {
    const closeCodes: Record<string, number> = {};
    for (const code of [...this.#closeCodes.keys()].sort((a, b) => a - b)) {
      closeCodes[String(code)] = this.#closeCodes.get(code)!;
    }
    return {
      connectionsOpen: this.#connectionsOpen,
      connectionsOpened: this.#connectionsOpened,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      compressions: this.#compressions,
      publishes: this.#publishes,
      drops: this.#drops,
      backplaneOut: this.#backplaneOut,
      backplaneIn: this.#backplaneIn,
      backplaneErrors: this.#backplaneErrors,
      closeCodes,
    };
  }
}

/** Options of {@linkcode formatPrometheus}. */
export interface PrometheusOptions {
  /**
   * Prepended to every metric name; must match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
   * @default "netws_"
   */
  prefix?: string;
  /**
   * Labels added to every sample, such as the worker of a multi-process server.
   * @default {}
   */
  labels?: Record<string, string>;
}

/** Name suffix, type and help of each figure, in output order. */
const FAMILIES: readonly [keyof Omit<MetricsSnapshot, "closeCodes">, string, string, string][] = [
  ["connectionsOpen", "connections_open", "gauge", "WebSocket connections open now."],
  ["connectionsOpened", "connections_opened_total", "counter", "WebSocket connections opened."],
  ["messagesIn", "messages_received_total", "counter", "Data messages received from clients."],
  ["messagesOut", "messages_sent_total", "counter", "Data messages sent, per receiver."],
  ["bytesIn", "received_bytes_total", "counter", "Bytes of WebSocket frames received."],
  ["bytesOut", "sent_bytes_total", "counter", "Bytes of WebSocket frames queued to send."],
  ["compressions", "compressions_total", "counter", "Messages compressed (once per shared group)."],
  ["publishes", "publishes_total", "counter", "Publishes fanned out to local subscribers."],
  ["drops", "dropped_messages_total", "counter", "Messages skipped for slow subscribers."],
  ["backplaneOut", "backplane_sent_total", "counter", "Envelopes handed to the backplane."],
  ["backplaneIn", "backplane_received_total", "counter", "Envelopes from the backplane."],
  ["backplaneErrors", "backplane_errors_total", "counter", "Failures the backplane reported."],
];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Formats a snapshot in the Prometheus text exposition format, one `# HELP` and `# TYPE` line per
 * metric, close codes as the `code` label of `<prefix>closes_total`. Serve it with the content
 * type `text/plain; version=0.0.4`. Throws a `RangeError` for a prefix or label name Prometheus
 * does not accept (label values are escaped).
 *
 * @example Serve a server's figures
 * ```ts
 * import { formatPrometheus, Metrics } from "@netws/server";
 * import assert from "node:assert/strict";
 *
 * const metrics = new Metrics();
 * metrics.connectionOpened();
 * const text = formatPrometheus(metrics.snapshot(), { labels: { worker: "1" } });
 * assert.match(text, /^netws_connections_open\{worker="1"\} 1$/m);
 * // In a request handler:
 * const response = new Response(text, {
 *   headers: { "content-type": "text/plain; version=0.0.4" },
 * });
 * assert.equal(response.status, 200);
 * ```
 */
export function formatPrometheus(
  snapshot: MetricsSnapshot,
  options: PrometheusOptions = {},
): string {
  const prefix = options.prefix ?? "netws_";
  if (prefix !== "" && !NAME.test(prefix)) {
    throw new RangeError(`Cannot format metrics: "${prefix}" is not a valid metric name prefix`);
  }
  const constant: string[] = [];
  for (const [name, value] of Object.entries(options.labels ?? {})) {
    if (!LABEL.test(name) || name.startsWith("__") || name === "code") {
      throw new RangeError(`Cannot format metrics: "${name}" is not a label name to use`);
    }
    constant.push(`${name}="${escapeLabelValue(value)}"`);
  }
  const labels = (extra: string[] = []): string => {
    const all = [...constant, ...extra];
    return all.length === 0 ? "" : `{${all.join(",")}}`;
  };
  const lines: string[] = [];
  for (const [key, suffix, type, help] of FAMILIES) {
    const name = prefix + suffix;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    lines.push(`${name}${labels()} ${formatValue(snapshot[key])}`);
  }
  const closes = prefix + "closes_total";
  lines.push(`# HELP ${closes} Connections closed, by close code.`, `# TYPE ${closes} counter`);
  for (const [code, count] of Object.entries(snapshot.closeCodes)) {
    lines.push(`${closes}${labels([`code="${escapeLabelValue(code)}"`])} ${formatValue(count)}`);
  }
  return lines.join("\n") + "\n";
}

/** Label values escape backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
