import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatPrometheus, Metrics, type MetricsSnapshot } from "../src/server/metrics.ts";

function busy(): Metrics {
  const metrics = new Metrics();
  for (let i = 0; i < 3; i++) metrics.connectionOpened();
  metrics.received(16);
  metrics.messageIn();
  metrics.messageIn();
  metrics.published();
  metrics.messageOut(1000);
  metrics.sent(66_000);
  metrics.compressed();
  metrics.compressed();
  metrics.dropped(7);
  metrics.dropped();
  metrics.backplaneSent();
  metrics.backplaneReceived();
  metrics.backplaneReceived();
  metrics.backplaneFailed();
  metrics.connectionClosed(1006);
  metrics.connectionClosed(1000);
  metrics.connectionClosed(1000);
  return metrics;
}

/** Parses exposition text into HELP/TYPE per name and samples; fails on any other line. */
function parseExposition(text: string) {
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  assert.ok(text.endsWith("\n"), "the text ends with a line feed");
  for (const line of text.slice(0, -1).split("\n")) {
    let match = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (match) {
      const table = match[1] === "HELP" ? help : types;
      assert.ok(!table.has(match[2]!), `one ${match[1]} for ${match[2]}`);
      table.set(match[2]!, match[3]!);
      continue;
    }
    match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const pairs = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g;
    for (const pair of (match[2] ?? "").matchAll(pairs)) {
      labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
    }
    assert.ok(types.has(match[1]!), `TYPE comes before the samples of ${match[1]}`);
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { help, types, samples };
}

describe("Metrics", () => {
  it("Metrics counts connections, messages, bytes, compressions, publishes, drops and close codes", () => {
    assert.deepEqual(
      busy().snapshot(),
      {
        connectionsOpen: 0,
        connectionsOpened: 3,
        messagesIn: 2,
        messagesOut: 1000,
        bytesIn: 16,
        bytesOut: 66_000,
        compressions: 2,
        publishes: 1,
        drops: 8,
        backplaneOut: 1,
        backplaneIn: 2,
        backplaneErrors: 1,
        closeCodes: { "1000": 2, "1006": 1 },
      } satisfies MetricsSnapshot,
    );
  });

  it("Metrics starts at zero with no close codes", () => {
    const snapshot = new Metrics().snapshot();
    assert.deepEqual(snapshot.closeCodes, {});
    for (const [key, value] of Object.entries(snapshot)) {
      if (key !== "closeCodes") assert.equal(value, 0, key);
    }
  });

  it("Metrics snapshot is a copy that later counting leaves alone, and serializes", () => {
    const metrics = busy();
    const before = metrics.snapshot();
    metrics.connectionOpened();
    metrics.connectionClosed(4000);
    assert.equal(before.connectionsOpened, 3);
    assert.deepEqual(before.closeCodes, { "1000": 2, "1006": 1 });
    assert.deepEqual(JSON.parse(JSON.stringify(metrics.snapshot())).closeCodes, {
      "1000": 2,
      "1006": 1,
      "4000": 1,
    });
  });

  it("Metrics lists close codes in ascending order whatever order they came in", () => {
    const metrics = new Metrics();
    for (const code of [4999, 1011, 1000, 1009, 1000]) {
      metrics.connectionOpened();
      metrics.connectionClosed(code);
    }
    assert.deepEqual(Object.keys(metrics.snapshot().closeCodes), ["1000", "1009", "1011", "4999"]);
  });
});

describe("formatPrometheus", () => {
  it("formatPrometheus writes HELP, TYPE and one sample per figure, close codes as labels", () => {
    const text = formatPrometheus(busy().snapshot());
    const { help, types, samples } = parseExposition(text);
    assert.equal(types.get("netws_connections_open"), "gauge");
    for (const [name, type] of types) {
      assert.ok(help.has(name), `HELP for ${name}`);
      if (type === "counter") assert.match(name, /_total$/);
    }
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))
        ?.value;
    assert.equal(value("netws_connections_opened_total"), 3);
    assert.equal(value("netws_messages_sent_total"), 1000);
    assert.equal(value("netws_sent_bytes_total"), 66000);
    assert.equal(value("netws_received_bytes_total"), 16);
    assert.equal(value("netws_compressions_total"), 2);
    assert.equal(value("netws_publishes_total"), 1);
    assert.equal(value("netws_dropped_messages_total"), 8);
    assert.equal(value("netws_backplane_received_total"), 2);
    assert.equal(value("netws_closes_total", { code: "1000" }), 2);
    assert.equal(value("netws_closes_total", { code: "1006" }), 1);
    assert.equal(samples.length, 12 + 2);
  });

  it("formatPrometheus writes the exact text of an empty server", () => {
    const text = formatPrometheus(new Metrics().snapshot(), { prefix: "ws_" });
    assert.ok(text.startsWith(
      "# HELP ws_connections_open WebSocket connections open now.\n" +
        "# TYPE ws_connections_open gauge\n" +
        "ws_connections_open 0\n" +
        "# HELP ws_connections_opened_total WebSocket connections opened.\n",
    ));
    assert.ok(text.endsWith(
      "# HELP ws_closes_total Connections closed, by close code.\n" +
        "# TYPE ws_closes_total counter\n",
    ));
  });

  it("formatPrometheus adds constant labels to every sample and escapes their values", () => {
    const tricky = 'a "quoted" \\ back\nslash';
    const text = formatPrometheus(busy().snapshot(), { labels: { worker: "2", note: tricky } });
    assert.match(
      text,
      /^netws_connections_open\{worker="2",note="a \\"quoted\\" \\\\ back\\nslash"\} 0$/m,
    );
    const { samples } = parseExposition(text);
    for (const sample of samples) {
      assert.equal(sample.labels.worker, "2");
      assert.equal(sample.labels.note, tricky);
    }
    assert.deepEqual(
      samples.filter((s) => s.name === "netws_closes_total").map((s) => s.labels.code),
      ["1000", "1006"],
    );
  });

  it("formatPrometheus rejects a bad prefix and label names it may not use", () => {
    for (const prefix of ["1abc", "with-dash_", "sp ace", "ü_"]) {
      assert.throws(
        () => formatPrometheus(new Metrics().snapshot(), { prefix }),
        (error) => error instanceof RangeError && error.message.includes(`"${prefix}"`),
      );
    }
    for (const name of ["__reserved", "code", "9x", "a-b", ""]) {
      assert.throws(
        () => formatPrometheus(new Metrics().snapshot(), { labels: { [name]: "v" } }),
        RangeError,
      );
    }
    assert.match(
      formatPrometheus(new Metrics().snapshot(), { prefix: "" }),
      /^connections_open 0$/m,
    );
  });
});
