/**
 * Runs the test suite on Deno, Bun and Node, one runtime after the other, each run under a
 * deadline so that a hang fails instead of stalling.
 *
 * - deno: `deno test -A tests/`, then `deno test -A --doc mod.ts src/ README.md`: every JSDoc and
 *   README code block (blocks marked `ignore` are skipped). Two runs, so that an example that
 *   fails to type-check does not keep the tests from running.
 * - bun: `bun test ./tests/` (the path keeps it out of npm/test_dist/ and node_modules/).
 * - install: `scripts/test_install.ts`: the README's install routes from a checkout (the packed
 *   npm build installed into scratch projects on Node and Bun, an import map on Deno), each
 *   running the README's echo snippet against a real client.
 * - node: `scripts/build_npm.ts`: builds npm/, then runs the compiled tests with `node --test`
 *   against the build. Last, so that Node's summary closes the output.
 *
 * Every run happens even if an earlier one failed; the exit code is 1 if any failed.
 *
 * Usage: deno run -A scripts/test.ts [deno] [bun] [install] [node] [--timeout=SECONDS]
 *
 * `--timeout` is the deadline of each run (default 600 s). Per test, Bun and Node fail a test
 * after 60 s and 120 s (Node also a test file that does not exit, such as one leaking a socket);
 * Deno has no per-test limit.
 *
 * @module
 */

import { exists, ROOT } from "./_tsc.ts";

const RUNTIMES = ["deno", "bun", "install", "node"] as const;
const POSIX = Deno.build.os !== "windows";
type Runtime = typeof RUNTIMES[number];

/** One test run: a name for the summary and the command. */
interface Run {
  name: string;
  command: [string, ...string[]];
}

const selected: Runtime[] = [];
let deadline = 600;
for (const arg of Deno.args) {
  const match = /^--timeout=(\d+)$/.exec(arg);
  if (match) deadline = Number(match[1]);
  else if ((RUNTIMES as readonly string[]).includes(arg)) selected.push(arg as Runtime);
  else {
    console.error(`test: cannot run: unknown argument "${arg}"; expected ${RUNTIMES.join(", ")}`);
    Deno.exit(2);
  }
}
if (selected.length === 0) selected.push(...RUNTIMES);

const failed: string[] = [];
for (const runtime of RUNTIMES.filter((runtime) => selected.includes(runtime))) {
  for (const { name, command: [command, ...args] } of await runsFor(runtime)) {
    console.log(`\n$ ${[command, ...args].map((part) => part.replace(ROOT, "")).join(" ")}`);
    const code = await runWithDeadline(command, args, deadline);
    if (code === "timeout") failed.push(`${name} (no result after ${deadline} s)`);
    else if (code !== 0) failed.push(`${name} (exit code ${code})`);
  }
}

if (failed.length > 0) {
  console.error(`\ntest: failed: ${failed.join(", ")}`);
  Deno.exit(1);
}

async function runsFor(runtime: Runtime): Promise<Run[]> {
  const deno = Deno.execPath();
  switch (runtime) {
    case "deno": {
      const documented = [];
      for (const path of ["mod.ts", "src/", "README.md"]) {
        if (await exists(path)) documented.push(path);
      }
      return [
        { name: "deno tests", command: [deno, "test", "-A", "tests/"] },
        { name: "deno doc examples", command: [deno, "test", "-A", "--doc", ...documented] },
      ];
    }
    case "bun":
      return [{
        name: "bun tests",
        command: [await localBin("bun"), "test", "--timeout=60000", "./tests/"],
      }];
    case "install":
      return [{
        name: "install routes",
        command: [deno, "run", "-A", "scripts/test_install.ts"],
      }];
    case "node":
      return [{
        name: "node build and tests",
        command: [deno, "run", "-A", "scripts/build_npm.ts", "--test-timeout=120"],
      }];
  }
}

/** The binary installed by `npm install`, or the one on PATH. */
async function localBin(name: string): Promise<string> {
  return (await exists(`node_modules/.bin/${name}`)) ? `${ROOT}node_modules/.bin/${name}` : name;
}

/**
 * Runs a command with inherited output; once `seconds` have passed, kills it together with every
 * process it started (the Node test runner's per-file processes, a server a test forgot).
 */
async function runWithDeadline(
  command: string,
  args: string[],
  seconds: number,
): Promise<number | "timeout"> {
  let child: Deno.ChildProcess;
  try {
    // Its own process group, so that the whole tree can be stopped with one signal.
    child = new Deno.Command(command, { args, cwd: ROOT, stdin: "null", detached: POSIX }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      console.error(`test: cannot run ${command}: not found; run "npm install" first`);
      return 127;
    }
    throw error;
  }
  let timedOut = false;
  const stop = (): void => {
    killTree(child, "SIGTERM");
    // A runner that ignores SIGTERM is killed for good shortly after.
    Deno.unrefTimer(setTimeout(() => killTree(child, "SIGKILL"), 5000));
  };
  const timer = setTimeout(() => {
    timedOut = true;
    console.error(`\ntest: stopping ${command}: still running after ${seconds} s`);
    stop();
  }, seconds * 1000);
  // The child is not in the terminal's process group: pass Ctrl-C and SIGTERM on to it.
  const interrupt = (): void => {
    stop();
    Deno.exit(130);
  };
  const signals: Deno.Signal[] = POSIX ? ["SIGINT", "SIGTERM"] : [];
  for (const signal of signals) Deno.addSignalListener(signal, interrupt);
  try {
    const { code } = await child.status;
    return timedOut ? "timeout" : code;
  } finally {
    clearTimeout(timer);
    for (const signal of signals) Deno.removeSignalListener(signal, interrupt);
  }
}

function killTree(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    if (POSIX) Deno.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // Already exited.
  }
}
