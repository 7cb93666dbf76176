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
 * 8. `npm pack --dry-run` in npm/ (built by step 6): the npm package packs
 *
 * Usage: deno run -A scripts/check.ts
 *
 * @module
 */

import { ROOT } from "./_tsc.ts";

const deno = Deno.execPath();
/** Each step: the command and its arguments, and the folder it runs in. */
const STEPS: { command: [string, ...string[]]; cwd?: string }[] = [
  { command: [deno, "fmt", "--check"] },
  { command: [deno, "lint"] },
  { command: [deno, "check"] },
  { command: [deno, "run", "-A", "scripts/check_portable.ts"] },
  { command: [deno, "run", "-A", "scripts/check_layers.ts"] },
  { command: [deno, "run", "-A", "scripts/build_npm.ts", "--no-smoke", "--no-test"] },
  { command: [deno, "publish", "--dry-run", "--allow-dirty"] },
  { command: ["npm", "pack", "--dry-run"], cwd: "npm" },
];

const failed: string[] = [];
for (const { command: [command, ...args], cwd } of STEPS) {
  const line = `${command === deno ? "deno" : command} ${args.join(" ")}` +
    (cwd === undefined ? "" : ` (in ${cwd}/)`);
  console.log(`\n$ ${line}`);
  const { code } = await new Deno.Command(command, {
    args,
    cwd: `${ROOT}${cwd ?? ""}`,
    stdin: "null",
  }).spawn().status;
  if (code !== 0) failed.push(line);
}

if (failed.length > 0) {
  console.error(`\ncheck: failed: ${failed.join("; ")}`);
  Deno.exit(1);
}
console.log("\ncheck: all passed");
