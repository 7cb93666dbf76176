/**
 * Throughput of the protocol core: bytes in, messages out, on whichever runtime runs it.
 *
 * Three paths are measured: the server's (`MessageReader`: payload slices straight into messages),
 * the synchronous classes (`FrameParser` → `MessageAssembler`, message limits checked from each
 * frame header) and the streams (`FrameParserStream` piped through `MessageAssemblerStream`). Input is masked client frames (parser role `"server"`), built once
 * and cut into 64 KiB chunks, each with a buffer of its own, as socket reads deliver them. The
 * parser unmasks in place, so every chunk is restored from a pristine copy before each run,
 * outside the timed region.
 *
 * ```sh
 * deno run -A bench/core_bench.ts              # Deno
 * bun bench/core_bench.ts                      # Bun
 * sh bench/run_core.sh                         # all three, Node on tsc output, a Markdown table
 * deno run -A bench/core_bench.ts 64B --quick  # only ids containing "64B", fewer runs
 * ```
 *
 * Prints one JSON line per case on stdout and a readable table on stderr. MB is 10^6 bytes of
 * payload (frame headers not counted); each figure comes from the median of the timed runs.
 *
 * @module
 */

// The core's own modules rather than mod.ts: the benchmark needs none of the server, and Node
// runs it compiled without the adapters' Node types.
import { Opcode } from "../src/protocol/constants.ts";
import type { Frame } from "../src/protocol/frame.ts";
import { encodeFrame } from "../src/protocol/frame_encoder.ts";
import { FrameParser } from "../src/protocol/frame_parser.ts";
import { FrameParserStream } from "../src/protocol/frame_parser_stream.ts";
import { applyMask } from "../src/protocol/mask.ts";
import { type Message, MessageAssembler } from "../src/protocol/message_assembler.ts";
import { MessageAssemblerStream } from "../src/protocol/message_assembler_stream.ts";
import { MessageReader } from "../src/protocol/message_reader.ts";

/** One measured case, as printed in a JSON line. */
export interface BenchResult {
  /** `deno 2.9.6`, `bun 1.4.5` or `node v20.20.2`. */
  runtime: string;
  /** Stable id of the case, such as `message/binary/64B/sync`. */
  id: string;
  /** `message`, `fragments` or `mask`. */
  group: string;
  /** A readable name of the case. */
  name: string;
  /** `reader`, `sync`, `stream`, or what a mask case timed (`applyMask`, `byte loop`). */
  path: string;
  /** Payload bytes processed per run. */
  payloadBytes: number;
  /** Bytes on the wire per run (payload and frame headers). */
  wireBytes: number;
  /** Frames per run (0 for mask cases). */
  frames: number;
  /** Messages per run (0 for mask cases). */
  messages: number;
  /** Timed runs, after warm-up. */
  runs: number;
  /** Median, fastest and slowest run, in milliseconds. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Payload throughput at the median, in 10^6 bytes per second. */
  mbPerSec: number;
  /** Frames and messages per second at the median. */
  framesPerSec: number;
  messagesPerSec: number;
  /** Anything that makes this case differ from its name. */
  note?: string;
}

// ---------------------------------------------------------------------------------------------
// Runtime and arguments. The runtime is detected for the label only: every runtime runs the
// same code.

interface RuntimeGlobals {
  Deno?: { version: { deno: string } };
  Bun?: { version: string };
  process?: { version: string; argv: string[] };
}
const runtimeGlobals = globalThis as unknown as RuntimeGlobals;

function runtimeLabel(): string {
  if (runtimeGlobals.Deno !== undefined) return `deno ${runtimeGlobals.Deno.version.deno}`;
  if (runtimeGlobals.Bun !== undefined) return `bun ${runtimeGlobals.Bun.version}`;
  return `node ${runtimeGlobals.process?.version ?? "?"}`;
}

// ---------------------------------------------------------------------------------------------
// Input

/** Bytes per chunk fed to the parser: one socket read. */
const CHUNK_SIZE = 65536;
const KiB = 1024;
const MiB = 1024 * KiB;

/** A deterministic generator (xorshift32), so every runtime parses the same bytes. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>>= 0);
  };
}

/** `size` bytes of binary or ASCII text payload, the same for a given size on every runtime. */
function payloadSource(size: number, text: boolean): Uint8Array {
  const next = random(0x6e657477);
  const bytes = new Uint8Array(size);
  const letters = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789{}:,"';
  for (let i = 0; i < size; i++) {
    bytes[i] = text ? letters.charCodeAt(next() % letters.length) : next() & 0xff;
  }
  return bytes;
}

/** Appends encoded frames into chunks of `CHUNK_SIZE` bytes, each with a buffer of its own. */
class WireBuilder {
  readonly chunks: Uint8Array[] = [];
  #current = new Uint8Array(CHUNK_SIZE);
  #used = 0;
  #total = 0;
  readonly #nextKey = random(0x6d61736b);
  readonly #key = new Uint8Array(4);
  readonly #keyWord = new Uint32Array(this.#key.buffer);

  /** Masks `payload` with a fresh key, as a client does, and appends the frame. */
  frame(opcode: number, payload: Uint8Array, fin: boolean): void {
    this.#keyWord[0] = this.#nextKey();
    for (const part of encodeFrame(opcode, payload, { fin, mask: this.#key })) this.#append(part);
  }

  #append(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      const take = Math.min(CHUNK_SIZE - this.#used, bytes.length - offset);
      this.#current.set(bytes.subarray(offset, offset + take), this.#used);
      this.#used += take;
      offset += take;
      if (this.#used === CHUNK_SIZE) this.#seal();
    }
    this.#total += bytes.length;
  }

  #seal(): void {
    this.chunks.push(this.#current.subarray(0, this.#used));
    this.#current = new Uint8Array(CHUNK_SIZE);
    this.#used = 0;
  }

  /** The chunks, with the last partial one cut to size, and the total bytes. */
  finish(): { chunks: Uint8Array[]; wireBytes: number } {
    if (this.#used > 0) this.chunks.push(this.#current.slice(0, this.#used));
    return { chunks: this.chunks, wireBytes: this.#total };
  }
}

/** Pre-built wire bytes, with a pristine copy to undo the parser's in-place unmasking. */
class Wire {
  readonly chunks: Uint8Array[];
  readonly #pristine: Uint8Array[];
  readonly wireBytes: number;

  constructor(built: { chunks: Uint8Array[]; wireBytes: number }) {
    this.chunks = built.chunks;
    this.#pristine = built.chunks.map((chunk) => chunk.slice());
    this.wireBytes = built.wireBytes;
  }

  /** Copies the masked bytes back into the chunks. Called outside the timed region. */
  restore(): void {
    const chunks = this.chunks;
    const pristine = this.#pristine;
    for (let i = 0; i < chunks.length; i++) chunks[i]!.set(pristine[i]!);
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

/** The limits every case runs with: a 16 MiB message in any number of fragments passes. */
const PARSER_OPTIONS = { role: "server", maxFrameSize: 16 * MiB } as const;
const ASSEMBLER_OPTIONS = { maxMessageSize: 16 * MiB, maxFragments: Infinity } as const;
const READER_OPTIONS = { maxFrameSize: 16 * MiB, ...ASSEMBLER_OPTIONS } as const;

interface ParseCase {
  group: "message" | "fragments";
  id: string;
  name: string;
  note?: string;
  /** Builds the input; called once, untimed. */
  build(): Wire;
  frames: number;
  messages: number;
  payloadBytes: number;
  /** Whether messages are text (checked by length: the text is ASCII). */
  text: boolean;
}

function sizeLabel(bytes: number): string {
  if (bytes >= MiB) return `${bytes / MiB}MiB`;
  if (bytes >= KiB) return `${bytes / KiB}KiB`;
  return `${bytes}B`;
}

/** `count` unfragmented messages of `size` bytes. */
function messageCase(text: boolean, size: number, count: number): ParseCase {
  const type = text ? "text" : "binary";
  return {
    group: "message",
    id: `message/${type}/${sizeLabel(size)}`,
    name: `${sizeLabel(size)} ${type} ×${count}`,
    text,
    frames: count,
    messages: count,
    payloadBytes: size * count,
    build() {
      const source = payloadSource(Math.min(size * 64, 16 * MiB), text);
      const builder = new WireBuilder();
      const opcode = text ? Opcode.Text : Opcode.Binary;
      for (let i = 0, at = 0; i < count; i++) {
        if (at + size > source.length) at = 0;
        builder.frame(opcode, source.subarray(at, at + size), true);
        at += size;
      }
      return new Wire(builder.finish());
    },
  };
}

/** One binary message of `total` bytes in fragments of `fragment` bytes. */
function fragmentCase(total: number, fragment: number, note?: string): ParseCase {
  const frames = Math.ceil(total / fragment);
  const result: ParseCase = {
    group: "fragments",
    id: `fragments/${sizeLabel(fragment)}`,
    name: `${sizeLabel(total)} binary in ${sizeLabel(fragment)} fragments`,
    text: false,
    frames,
    messages: 1,
    payloadBytes: total,
    build() {
      const source = payloadSource(total, false);
      const builder = new WireBuilder();
      for (let i = 0; i < frames; i++) {
        const at = i * fragment;
        builder.frame(
          i === 0 ? Opcode.Binary : Opcode.Continuation,
          source.subarray(at, Math.min(at + fragment, total)),
          i === frames - 1,
        );
      }
      return new Wire(builder.finish());
    },
  };
  if (note !== undefined) result.note = note;
  return result;
}

const PARSE_CASES: readonly ParseCase[] = [
  messageCase(false, 64, 131072),
  messageCase(true, 64, 131072),
  messageCase(false, 16 * KiB, 1024),
  messageCase(true, 16 * KiB, 1024),
  messageCase(false, MiB, 16),
  messageCase(true, MiB, 16),
  fragmentCase(16 * MiB, 64 * KiB),
  fragmentCase(MiB, 128),
  fragmentCase(16 * MiB, KiB),
  fragmentCase(16 * MiB, 16),
  fragmentCase(
    256 * KiB,
    1,
    "the 1 B fragment case parses 256 KiB, not 16 MiB: 16M frames take minutes on streams",
  ),
];

/** The ways through the core a case is measured on. */
type Path = "reader" | "sync" | "stream";
const PATHS: readonly Path[] = ["reader", "sync", "stream"];

/** What a run saw; checked against the case so that no run can skip work. */
interface Tally {
  messages: number;
  bytes: number;
}

function count(tally: Tally, message: Message): void {
  tally.messages++;
  if (message.type === "binary" || message.type === "text") tally.bytes += message.data.length;
}

/** One run through `MessageReader`, as the server's connection reads: returns its time in ms. */
function runReader(wire: Wire, tally: Tally): number {
  const chunks = wire.chunks;
  const start = performance.now();
  const reader = new MessageReader(READER_OPTIONS);
  const onMessage = (message: Message) => count(tally, message);
  for (let i = 0; i < chunks.length; i++) reader.push(chunks[i]!, onMessage);
  return performance.now() - start;
}

/**
 * One run through the public sync classes, message limits checked from each frame header: returns
 * its time in milliseconds.
 */
function runSync(wire: Wire, tally: Tally): number {
  const chunks = wire.chunks;
  const start = performance.now();
  const assembler = new MessageAssembler(ASSEMBLER_OPTIONS);
  const parser = new FrameParser({
    ...PARSER_OPTIONS,
    onHeader: (opcode, length) => assembler.checkHeader(opcode, length),
  });
  const onFrame = (frame: Frame) => {
    const message = assembler.push(frame);
    if (message !== undefined) count(tally, message);
  };
  for (let i = 0; i < chunks.length; i++) parser.push(chunks[i]!, onFrame);
  return performance.now() - start;
}

/** One stream run: chunks from a pull source, through both stages, read to the end. */
async function runStream(wire: Wire, tally: Tally): Promise<number> {
  const chunks = wire.chunks;
  const start = performance.now();
  let next = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]!);
      else controller.close();
    },
  });
  const reader = source
    .pipeThrough(new FrameParserStream(PARSER_OPTIONS))
    .pipeThrough(new MessageAssemblerStream(ASSEMBLER_OPTIONS))
    .getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    count(tally, value);
  }
  return performance.now() - start;
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Plan {
  /** Untimed runs first, at least this many and this long in total. */
  warmupRuns: number;
  warmupMs: number;
  /** Timed runs: at least `minRuns`, then more until `maxRuns` or `budgetMs` of timed runs. */
  minRuns: number;
  maxRuns: number;
  budgetMs: number;
}

// Slow cases get the minimum of timed runs; fast ones as many as fit the budget.
const FULL_PLAN: Plan = { warmupRuns: 1, warmupMs: 300, minRuns: 3, maxRuns: 11, budgetMs: 750 };
const QUICK_PLAN: Plan = { warmupRuns: 1, warmupMs: 50, minRuns: 3, maxRuns: 5, budgetMs: 300 };

/** Runs `prepare` (untimed) then `run` (which times itself), and returns the timed runs. */
async function measure(
  plan: Plan,
  prepare: () => void,
  run: () => number | Promise<number>,
): Promise<number[]> {
  let warm = 0;
  for (let i = 0; i < plan.warmupRuns || warm < plan.warmupMs; i++) {
    prepare();
    warm += await run();
  }
  const times: number[] = [];
  let spent = 0;
  while (times.length < plan.minRuns || (times.length < plan.maxRuns && spent < plan.budgetMs)) {
    // No forced garbage collection here: on V8, gc() discards the optimised code of the hot
    // functions, and every run would pay for compiling them again (2-3x slower for 64 B frames).
    prepare();
    const ms = await run();
    times.push(ms);
    spent += ms;
  }
  return times;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function result(
  base: Omit<
    BenchResult,
    "runs" | "medianMs" | "minMs" | "maxMs" | "mbPerSec" | "framesPerSec" | "messagesPerSec"
  >,
  times: readonly number[],
): BenchResult {
  const ms = median(times);
  const perSec = 1000 / ms;
  const { note, ...rest } = base;
  const out: BenchResult = {
    ...rest,
    runs: times.length,
    medianMs: round(ms, 3),
    minMs: round(Math.min(...times), 3),
    maxMs: round(Math.max(...times), 3),
    mbPerSec: round((base.payloadBytes / 1e6) * perSec, 1),
    framesPerSec: Math.round(base.frames * perSec),
    messagesPerSec: round(base.messages * perSec, 1),
  };
  if (note !== undefined) out.note = note;
  return out;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

async function benchParse(
  runtime: string,
  testCase: ParseCase,
  path: Path,
  wire: Wire,
  plan: Plan,
): Promise<BenchResult> {
  const tally: Tally = { messages: 0, bytes: 0 };
  const run = path === "reader"
    ? () => runReader(wire, tally)
    : path === "sync"
    ? () => runSync(wire, tally)
    : () => runStream(wire, tally);
  let runs = 0;
  const times = await measure(plan, () => {
    runs++;
    wire.restore();
  }, run);
  if (tally.messages !== testCase.messages * runs || tally.bytes !== testCase.payloadBytes * runs) {
    throw new Error(
      `Cannot trust "${testCase.id}/${path}": ${tally.messages} messages of ${tally.bytes} bytes ` +
        `in ${runs} runs, expected ${testCase.messages} of ${testCase.payloadBytes} per run`,
    );
  }
  const base = {
    runtime,
    id: `${testCase.id}/${path}`,
    group: testCase.group,
    name: testCase.name,
    path,
    payloadBytes: testCase.payloadBytes,
    wireBytes: wire.wireBytes,
    frames: testCase.frames,
    messages: testCase.messages,
  };
  return result(testCase.note === undefined ? base : { ...base, note: testCase.note }, times);
}

/** Checks once that the parser really unmasks what the builder masked. */
function checkUnmasked(testCase: ParseCase, wire: Wire): void {
  wire.restore();
  const parser = new FrameParser(PARSER_OPTIONS);
  const assembler = new MessageAssembler(ASSEMBLER_OPTIONS);
  let first: Message | undefined;
  parser.push(wire.chunks[0]!, (frame) => {
    first ??= assembler.push(frame);
  });
  for (let i = 1; first === undefined && i < wire.chunks.length; i++) {
    parser.push(wire.chunks[i]!, (frame) => {
      first ??= assembler.push(frame);
    });
  }
  if (first === undefined || (first.type !== "binary" && first.type !== "text")) {
    throw new Error(`Cannot check "${testCase.id}": no data message was parsed`);
  }
  const data = first.type === "text" ? new TextEncoder().encode(first.data) : first.data;
  // The builder takes every payload from the start of the same seeded source.
  const expected = payloadSource(Math.min(data.length, 4096), testCase.text);
  for (let i = 0; i < expected.length; i++) {
    if (data[i] !== expected[i]) {
      throw new Error(`Cannot check "${testCase.id}": byte ${i} differs after unmasking`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Unmasking alone

/** The obvious byte loop, to compare `applyMask` with. */
function maskByteLoop(data: Uint8Array, mask: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i]! ^= mask[i & 3]!;
}

/** Which function a mask case times. */
type MaskImpl = "applyMask" | "byte loop";

interface MaskCase {
  id: string;
  name: string;
  impl: MaskImpl;
  /** Payload size and its offset in its buffer (a frame header sits before it on the wire). */
  size: number;
  offset: number;
  /** Payloads per run. */
  repeat: number;
}

function maskCases(
  label: string,
  size: number,
  offset: number,
  repeat: number,
  impls: readonly MaskImpl[],
): MaskCase[] {
  const name = `unmask ${sizeLabel(size)} at byte offset ${offset} ×${repeat}`;
  return impls.map((impl) => ({
    id: `mask/${label}/${impl === "applyMask" ? "word" : "bytes"}`,
    name,
    impl,
    size,
    offset,
    repeat,
  }));
}

// Offset 14 is where a payload starts behind a masked header with a 64-bit length: applyMask
// must unmask up to a word boundary first. A byte loop does not care about alignment.
const MASK_CASES: readonly MaskCase[] = [
  ...maskCases("1MiB", MiB, 0, 64, ["applyMask", "byte loop"]),
  ...maskCases("1MiB+14", MiB, 14, 64, ["applyMask"]),
  ...maskCases("64B+6", 64, 6, 262144, ["applyMask", "byte loop"]),
];

/**
 * Times `repeat` passes of one mask function. Each function gets its own loop, so that the call
 * in it stays monomorphic: a shared loop calling either would time the call, not the function.
 */
function maskRunner(impl: MaskImpl, data: Uint8Array, key: Uint8Array, repeat: number) {
  return impl === "applyMask"
    ? () => {
      const start = performance.now();
      for (let i = 0; i < repeat; i++) applyMask(data, key);
      return performance.now() - start;
    }
    : () => {
      const start = performance.now();
      for (let i = 0; i < repeat; i++) maskByteLoop(data, key);
      return performance.now() - start;
    };
}

async function benchMask(runtime: string, testCase: MaskCase, plan: Plan): Promise<BenchResult> {
  const { impl, offset, repeat, size } = testCase;
  const data = payloadSource(offset + size, false).subarray(offset);
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const pristine = data.slice();
  const run = maskRunner(impl, data, key, repeat);
  let runs = 0;
  const times = await measure(plan, () => runs++, run);
  // Masking twice restores the data: checks that every pass did the whole job.
  if ((runs * repeat) % 2 !== 0) maskByteLoop(data, key);
  if (data.some((byte, i) => byte !== pristine[i])) {
    throw new Error(`Cannot trust "${testCase.id}": the data was not restored`);
  }
  return result({
    runtime,
    id: testCase.id,
    group: "mask",
    name: testCase.name,
    path: impl,
    payloadBytes: size * repeat,
    wireBytes: 0,
    frames: 0,
    messages: 0,
  }, times);
}

// ---------------------------------------------------------------------------------------------
// Output

function formatCount(value: number): string {
  if (value === 0) return "–";
  if (value >= 1e6) return `${(value / 1e6).toPrecision(3)} M`;
  if (value >= 1e3) return `${(value / 1e3).toPrecision(3)} k`;
  return value.toPrecision(3);
}

function formatMb(value: number): string {
  return value >= 100 ? Math.round(value).toString() : value.toPrecision(3);
}

/** A plain-text table of one runtime's results. */
export function renderText(results: readonly BenchResult[]): string {
  const header = ["case", "path", "MB/s", "frames/s", "msgs/s", "median ms", "min–max ms", "runs"];
  const rows = results.map((r) => [
    r.name,
    r.path,
    formatMb(r.mbPerSec),
    formatCount(r.framesPerSec),
    formatCount(r.messagesPerSec),
    r.medianMs.toFixed(2),
    `${r.minMs.toFixed(1)}–${r.maxMs.toFixed(1)}`,
    String(r.runs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * A Markdown table with one row per case and path, and MB/s and frames/s columns per runtime,
 * in the order the runtimes first appear in `results`. A case measured several times (in rounds
 * of `run_core.sh`) shows its median round.
 */
export function renderMarkdown(results: readonly BenchResult[]): string {
  const runtimes = [...new Set(results.map((r) => r.runtime))];
  const ids = [...new Set(results.map((r) => r.id))];
  const rounds = new Map<string, BenchResult[]>();
  for (const r of results) {
    const key = `${r.runtime}\n${r.id}`;
    rounds.set(key, [...(rounds.get(key) ?? []), r]);
  }
  const byKey = new Map<string, BenchResult>();
  for (const [key, list] of rounds) {
    const sorted = [...list].sort((a, b) => a.medianMs - b.medianMs);
    byKey.set(key, sorted[sorted.length >> 1]!);
  }
  const header = ["Case", "Path"];
  for (const runtime of runtimes) header.push(`${runtime} MB/s`, `${runtime} frames/s`);
  const lines = [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i < 2 ? "---" : "---:")).join(" | ")} |`,
  ];
  const notes = new Set<string>();
  for (const id of ids) {
    const any = results.find((r) => r.id === id)!;
    const cells = [any.name, any.path];
    for (const runtime of runtimes) {
      const r = byKey.get(`${runtime}\n${id}`);
      cells.push(r === undefined ? "" : formatMb(r.mbPerSec));
      cells.push(r === undefined ? "" : formatCount(r.framesPerSec));
    }
    if (any.note !== undefined) notes.add(any.note);
    lines.push(`| ${cells.join(" | ")} |`);
  }
  const most = Math.max(...[...rounds.values()].map((list) => list.length));
  if (most > 1) notes.add(`each figure is the median of ${most} rounds`);
  for (const note of notes) lines.push("", `Note: ${note}.`);
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main

/**
 * Runs every case whose id contains one of `filters` (all cases when there is none), printing
 * each result as a JSON line as it completes, and returns the results.
 */
export async function main(filters: readonly string[], quick: boolean): Promise<BenchResult[]> {
  const runtime = runtimeLabel();
  const plan = quick ? QUICK_PLAN : FULL_PLAN;
  const wanted = (id: string) => filters.length === 0 || filters.some((f) => id.includes(f));
  const results: BenchResult[] = [];
  const report = (r: BenchResult) => {
    results.push(r);
    console.log(JSON.stringify(r));
  };
  for (const testCase of PARSE_CASES) {
    const paths = PATHS.filter((p) => wanted(`${testCase.id}/${p}`));
    if (paths.length === 0) continue;
    const wire = testCase.build();
    checkUnmasked(testCase, wire);
    for (const path of paths) report(await benchParse(runtime, testCase, path, wire, plan));
  }
  for (const testCase of MASK_CASES) {
    if (wanted(testCase.id)) report(await benchMask(runtime, testCase, plan));
  }
  console.error(`\n${runtime}${quick ? " (quick)" : ""}\n${renderText(results)}`);
  return results;
}

// Run when started as a program, not when imported (`deno bench` and `run_core.sh` import it).
// Node 20 has no `import.meta.main`: there it is undefined and the script runs.
if ((import.meta as ImportMeta & { main?: boolean }).main !== false) {
  const args = runtimeGlobals.process?.argv.slice(2) ?? [];
  await main(args.filter((arg) => arg !== "--quick"), args.includes("--quick"));
}
