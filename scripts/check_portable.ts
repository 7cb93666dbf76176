/**
 * Checks that the core is web-platform code (STYLE rule 2): outside `src/adapters/`, nothing may
 * mention `Deno`, `Bun` or `node:` modules.
 *
 * Two checks:
 * 1. `tsc` type-checks `mod.ts` and `src/` (minus `src/adapters/`) with only the ES2023 and DOM
 *    libraries: no `@types/node`, no Deno or Bun types. A use of `process`, `Buffer`, `Deno.*`
 *    or an import of `node:*` fails to type-check. Files under `src/adapters/` that the core
 *    imports (such as `src/adapters/detect.ts`) are part of the program, but their diagnostics
 *    are not counted.
 * 2. A text scan of the same files, comments removed, for `Deno`, `Bun` and `"node:`: catches
 *    what a cast hides from the type checker (`(globalThis as any).Deno`).
 *
 * Usage: deno run -A scripts/check_portable.ts
 *
 * @module
 */

import {
  exists,
  listFiles,
  readDenoConfig,
  ROOT,
  runTsc,
  sharedCompilerOptions,
  WEB_LIBS,
} from "./_tsc.ts";

const ADAPTERS = "src/adapters/";

const files = [
  ...((await exists("mod.ts")) ? ["mod.ts"] : []),
  ...(await listFiles("src", (path) => path.endsWith(".ts") && !path.startsWith(ADAPTERS))),
];

const problems: string[] = [];

const { output } = await runTsc(files, {
  ...sharedCompilerOptions(await readDenoConfig()),
  target: "es2022",
  module: "nodenext",
  moduleResolution: "nodenext",
  lib: WEB_LIBS,
  types: [],
  noEmit: true,
  allowImportingTsExtensions: true,
  isolatedModules: true,
  skipLibCheck: true,
});
// Diagnostics are "file(line,col): error TSxxxx: message", continued on indented lines.
let counted = false;
for (const line of output.split("\n")) {
  if (line.trim() === "") continue;
  if (/^\S/.test(line)) counted = !line.startsWith(ADAPTERS);
  if (counted) problems.push(line);
}

const MENTION = /\b(?:Deno|Bun)\b|["'`]node:/;
for (const file of files) {
  const code = stripComments(await Deno.readTextFile(`${ROOT}${file}`));
  code.split("\n").forEach((line, index) => {
    if (MENTION.test(line)) {
      problems.push(`${file}:${index + 1}: mentions a runtime outside ${ADAPTERS}: ${line.trim()}`);
    }
  });
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(
    `\nCannot accept the core: it must be web-platform code; only ${ADAPTERS} may use Deno, Bun or node: APIs`,
  );
  Deno.exit(1);
}
console.log(`Portable: ${files.length} files type-check without runtime types`);

/** Blanks out comments, keeping line breaks so line numbers stay right. */
function stripComments(source: string): string {
  return source.replace(
    /\/\*[\s\S]*?\*\/|\/\/[^\n]*|("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)/g,
    (match, literal: string | undefined) => literal ?? match.replace(/[^\n]/g, " "),
  );
}
