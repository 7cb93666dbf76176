/** Decompression bombs made on the fly: zeros streamed through a deflater, none stored. */
import { constants, createDeflateRaw } from "node:zlib";
import { concat } from "./bytes.ts";

/** `size` zero bytes deflated as one message (level 9), without the sync-flush tail. */
export async function deflatedZeros(size: number): Promise<Uint8Array> {
  const deflate = createDeflateRaw({ level: 9 });
  const out: Uint8Array[] = [];
  deflate.on("data", (chunk: Uint8Array) => out.push(chunk));
  const zeros = new Uint8Array(Math.min(size, 4 * 1024 * 1024));
  for (let written = 0; written < size; written += zeros.length) {
    const part = zeros.subarray(0, Math.min(zeros.length, size - written));
    if (!deflate.write(part)) await new Promise((resolve) => deflate.once("drain", resolve));
  }
  await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  deflate.close();
  const all = concat(out);
  return all.subarray(0, all.length - 4);
}
