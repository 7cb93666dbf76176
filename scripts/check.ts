/**
 * Runs every static check, continuing past a failure so one run reports all of them:
 *
 * 1. `deno fmt --check`
 * 2. `deno lint`
 * 3. `deno check`: everything, with the real Deno and Node types
 * 4. `scripts/check_portable.ts`: the core (everything outside src/adapters/) type-checks
 *    without any runtime's types
 * 5. `scripts/check_layers.ts`: dependencies in src/ flow one way, with no import circle
 * 6. `scripts/build_npm.ts --no-smoke --no-test`: the npm build compiles, including tsc's
 *    `isolatedDeclarations` rule (stricter than JSR's: `export const A = 2 * 1024` needs
 *    `: number`), and its `.d.ts` files type-check without Deno or Bun types
 * 7. `deno publish --dry-run --allow-dirty`: the JSR package is complete and has no slow types
 *
 * Usage: deno run -A scripts/check.ts
 *
 * @module
 */

import { ROOT } from "./_tsc.ts";

const STEPS: string[][] = [
  ["fmt", "--check"],
  ["lint"],
  ["check"],
  ["run", "-A", "scripts/check_portable.ts"],
  ["run", "-A", "scripts/check_layers.ts"],
  ["run", "-A", "scripts/build_npm.ts", "--no-smoke", "--no-test"],
  ["publish", "--dry-run", "--allow-dirty"],
];

const failed: string[] = [];
for (const args of STEPS) {
  const line = `deno ${args.join(" ")}`;
  console.log(`\n$ ${line}`);
  const { code } = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdin: "null" })
    .spawn().status;
  if (code !== 0) failed.push(line);
}

if (failed.length > 0) {
  console.error(`\ncheck: failed: ${failed.join("; ")}`);
  Deno.exit(1);
}
console.log("\ncheck: all passed");
