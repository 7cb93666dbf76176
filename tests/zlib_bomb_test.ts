// Decompression bombs at the codec level: inflation stops with 1009 within one inflater chunk of
// the limit, nothing is kept past the limit, no work goes on after the stop, and in a fresh
// process the memory counted for array buffers grows by at most the limit + 1 MiB. The bombs are
// made here by streaming zeros through a deflater; none is stored.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { zlibCompression } from "../src/adapters/zlib/mod.ts";
import { MessageTooBigError } from "../src/protocol/errors.ts";
import { concat } from "./helpers/bytes.ts";
import { deflatedZeros } from "./helpers/deflate_bombs.ts";
import { assertError } from "./helpers/errors.ts";
import { runtime } from "./helpers/memory.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** The output chunk of every runtime's inflater (measured: 16 KiB on all three). */
const CHUNK = 16 * KiB;

interface ChildResult {
  grown: number;
  buffers: number;
  kept?: number;
  error?: { closeCode: number; code: string; size: number; limit: number };
}

const child = fileURLToPath(
  new URL(
    `./helpers/inflate_rss_child.${import.meta.url.endsWith(".js") ? "js" : "ts"}`,
    import.meta.url,
  ),
);

/** Runs the child measurement in a fresh process of this runtime. */
function measure(mode: "inflate" | "control", file: string, limit: number): Promise<ChildResult> {
  const args = runtime === "deno" ? ["run", "-A", child] : [child];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...args, mode, file, String(limit)],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split("\n").at(-1)!) as ChildResult);
      },
    );
  });
}

/** Checks the stop in a fresh process and its memory against the runtime's own cost. */
async function assertBombStopped(bomb: Uint8Array, limit: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "netws-bomb-"));
  try {
    const file = join(dir, "message.bin");
    writeFileSync(file, bomb);
    const run = await measure("inflate", file, limit);
    const control = await measure("control", file, limit);
    assert.equal(run.error?.closeCode, 1009);
    assert.equal(run.error?.code, "MESSAGE_TOO_BIG");
    assert.equal(run.error?.limit, limit);
    const size = run.error!.size;
    assert.ok(size > limit && size <= limit + CHUNK, `stopped at ${size} for a limit of ${limit}`);
    assert.ok(run.kept! <= limit, `kept ${run.kept} bytes`);
    // What the runtime counts for array buffers: the message's bytes, within the limit + 1 MiB.
    assert.ok(
      run.buffers <= limit + MiB,
      `array buffers grew by ${(run.buffers / MiB).toFixed(2)} MiB`,
    );
    // The resident set also carries the allocator's and the garbage collector's slack, which
    // holding the same bytes in the same kind of buffers, without zlib, shows (`control`):
    // 16 MiB costs 17-23 MiB of RSS on Deno and Bun. Twice the limit is far below what
    // keeping the inflated gigabyte, or a second copy of the message, would take.
    assert.ok(
      run.grown <= 2 * limit,
      `RSS grew by ${(run.grown / MiB).toFixed(2)} MiB (holding the bytes alone: ` +
        `${(control.grown / MiB).toFixed(2)} MiB)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Inflates in this process and returns the CPU time spent in the 300 ms after the stop. */
async function cpuAfterStop(bomb: Uint8Array, limit: number): Promise<number> {
  const decompressor = zlibCompression().createDecompressor({
    windowBits: 15,
    noContextTakeover: false,
  });
  await assert.rejects(decompressor.decompress([bomb], limit), (error) => {
    assertError(error, {
      type: MessageTooBigError,
      closeCode: 1009,
      code: "MESSAGE_TOO_BIG",
      limit,
    });
    return true;
  });
  const before = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / 1000;
}

describe("Decompressor bombs", () => {
  it("Decompressor stops 1 GiB of zeros (~1 MiB compressed) with 1009 just past 16 MiB", {
    timeout: 120_000,
  }, async () => {
    const bomb = await deflatedZeros(GiB);
    assert.ok(bomb.length < 1.1 * MiB, `the bomb is ${bomb.length} bytes`);
    await assertBombStopped(bomb, 16 * MiB);
    // Were the inflater left running, the rest of the gigabyte would take about a second.
    const cpu = await cpuAfterStop(bomb, 16 * MiB);
    assert.ok(cpu < 100, `${cpu.toFixed(0)} ms of CPU after the stop`);
  });

  it("Decompressor inflates a 16 MiB message at 1000:1 at its limit and stops it one byte under", {
    timeout: 120_000,
  }, async () => {
    const size = 16 * MiB;
    const bomb = await deflatedZeros(size);
    assert.ok(size / bomb.length >= 1000, `ratio ${(size / bomb.length).toFixed(0)}:1`);
    const decompressor = zlibCompression().createDecompressor({
      windowBits: 15,
      noContextTakeover: false,
    });
    const chunks = await decompressor.decompress([bomb], size);
    assert.equal(concat(chunks).length, size);
    decompressor.close();
    await assertBombStopped(bomb, size - 1);
  });
});
