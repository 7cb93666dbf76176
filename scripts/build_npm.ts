/**
 * Builds the npm package into `npm/` and tests it on Node.
 *
 * 1. Reads name, version, license and exports from `deno.json`.
 * 2. Compiles `mod.ts` and `src/` with `tsc` to ES2022 modules and `.d.ts` files (relative `.ts`
 *    imports rewritten to `.js`). Emitting does not type-check: `deno check` does that with the
 *    real runtime types, which `tsc` lacks for Deno and Bun.
 * 3. Writes `npm/package.json`, copies README.md and LICENSE, then type-checks the emitted
 *    `.d.ts` files as a consumer would (Node and DOM types only).
 * 4. Packs the package, installs the tarball (with the optional peer dependencies: the `npm:`
 *    entries of the import map) into a temporary project and imports every export there, from
 *    Node (with import() and require()) and from TypeScript (.ts and .cts; skip with
 *    `--no-smoke`).
 * 5. Compiles `tests/` into `npm/test_dist/` and `examples/` into `npm/examples/` (neither is
 *    published), beside the build so that their `../mod.js` and `../src/x.js` are the built
 *    files; copies the tests' fixtures.
 * 6. Runs the compiled tests with `node --test` (skip with `--no-test`).
 *
 * Usage: deno run -A scripts/build_npm.ts [--no-smoke] [--no-test] [--test-timeout=SECONDS]
 *
 * `--test-timeout` bounds each test and each test file on Node (default 120): a file that leaks
 * a socket never exits, and fails after that long instead of hanging.
 *
 * @module
 */

import {
  type DenoConfig,
  exists,
  listFiles,
  npmImports,
  readDenoConfig,
  ROOT,
  runTsc,
  sharedCompilerOptions,
  WEB_LIBS,
} from "./_tsc.ts";

const OUT = "npm";
const TEST_OUT = `${OUT}/test_dist`;

const args = new Set(Deno.args);
const smoke = !args.delete("--no-smoke");
const test = !args.delete("--no-test");
let testTimeout = 120;
for (const arg of args) {
  const match = /^--test-timeout=(\d+)$/.exec(arg);
  if (match) testTimeout = Number(match[1]);
  else fail(`Cannot build: unknown argument "${arg}"`);
}

const config = await readDenoConfig();
const started = performance.now();

await step(
  "Clean npm/",
  () => Deno.remove(`${ROOT}${OUT}`, { recursive: true }).catch(ignoreNotFound),
);

await step("Compile mod.ts and src/", async () => {
  const files = [
    ...Object.values(config.exports).map((file) => file.slice(2)),
    ...(await listFiles("src", isSource)),
  ];
  await tsc([...new Set(files)], {
    ...emitOptions(config),
    declaration: true,
    isolatedDeclarations: true,
    rootDir: ".",
    outDir: OUT,
  });
  for (const file of Object.values(config.exports)) {
    if (!(await exists(`${OUT}/${jsPath(file)}`))) fail(`Cannot build: ${file} was not emitted`);
  }
});

await step("Write npm/package.json, README.md, LICENSE", async () => {
  await Deno.writeTextFile(
    `${ROOT}${OUT}/package.json`,
    JSON.stringify(packageJson(config), null, 2) + "\n",
  );
  for (const file of ["README.md", "LICENSE"]) {
    if (await exists(file)) await Deno.copyFile(`${ROOT}${file}`, `${ROOT}${OUT}/${file}`);
    else console.warn(`  warning: ${file} is missing, the package ships without it`);
  }
});

await step("Type-check the emitted .d.ts files as a consumer", async () => {
  await tsc(await listFiles(OUT, (path) => path.endsWith(".d.ts")), {
    ...sharedCompilerOptions(config),
    target: "es2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    lib: WEB_LIBS,
    types: ["node"],
    typeRoots: [`${ROOT}node_modules/@types`],
    noEmit: true,
    skipLibCheck: false,
  });
});

if (smoke) await step("Pack, install in a temporary project, import every export", smokeTest);

await step("Compile tests/ and examples/ beside the package (not published)", compileExtras);

if (test) {
  const tests = await listFiles(TEST_OUT, (path) => /_test\.js$/.test(path));
  if (tests.length === 0) fail("Cannot test on Node: no *_test.ts file in tests/");
  console.log(`\n$ node --test (${tests.length} files)`);
  const { code } = await new Deno.Command("node", {
    args: [
      "--test",
      "--test-reporter=spec",
      `--test-timeout=${testTimeout * 1000}`,
      "--enable-source-maps",
      ...tests,
    ],
    cwd: ROOT,
    stdin: "null",
  }).spawn().status;
  if (code !== 0) fail(`Cannot test on Node: node --test exited with code ${code}`);
} else {
  console.log(`Built ${config.name}@${config.version} in ${OUT}/ in ${seconds(started)}`);
}

/** Options of the emitting `tsc` runs: the strictness of deno.json plus Node 20's module system. */
function emitOptions(config: DenoConfig): Record<string, unknown> {
  return {
    ...sharedCompilerOptions(config),
    target: "es2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    lib: WEB_LIBS,
    types: ["node"],
    typeRoots: [`${ROOT}node_modules/@types`],
    rewriteRelativeImportExtensions: true,
    isolatedModules: true,
    // deno check type-checks everything with the real runtime types; here tsc only transpiles.
    noCheck: true,
    skipLibCheck: true,
    newLine: "lf",
  };
}

function packageJson(config: DenoConfig): Record<string, unknown> {
  // One build, ES modules only. "default" rather than "import" lets `require()` resolve it too:
  // Node 20.19+ and 22.12+ load ES modules from require() (no top-level await in the package), so
  // CommonJS callers get the same module instances as importers, with no second copy of the
  // classes to break `instanceof`.
  const exports: Record<string, { types: string; default: string }> = {};
  for (const [subpath, file] of Object.entries(config.exports)) {
    const js = `./${jsPath(file)}`;
    exports[subpath] = { types: js.replace(/\.js$/, ".d.ts"), default: js };
  }
  return {
    name: config.name,
    version: config.version,
    description: "WebSocket server (RFC 6455) for Deno, Bun and Node, with bounded parsing",
    keywords: ["websocket", "rfc6455", "server", "deno", "bun", "node"],
    license: config.license ?? "MIT",
    type: "module",
    sideEffects: false,
    engines: { node: ">=20" },
    main: exports["."]!.default,
    types: exports["."]!.types,
    exports,
    files: ["mod.js", "mod.d.ts", "src/", "README.md", "LICENSE"],
    ...peerDependencies(config),
  };
}

/** The npm packages of the import map, as optional peer dependencies. */
function peerDependencies(config: DenoConfig): Record<string, unknown> {
  const peers = npmImports(config);
  const names = Object.keys(peers);
  if (names.length === 0) return {};
  return {
    peerDependencies: peers,
    peerDependenciesMeta: Object.fromEntries(names.map((name) => [name, { optional: true }])),
  };
}

async function smokeTest(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netws-smoke-" });
  try {
    const packed = await run("npm", ["pack", "--json", "--pack-destination", dir], `${ROOT}${OUT}`);
    const [{ filename, files }] = JSON.parse(packed) as [
      { filename: string; files: { path: string }[] },
    ];
    const paths = files.map((file) => file.path);
    const leaked = paths.filter((path) =>
      !/^(mod\.(js|d\.ts)|src\/.*\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(path)
    );
    if (leaked.length > 0) {
      fail(`Cannot pack: unexpected files in the tarball: ${leaked.join(", ")}`);
    }
    console.log(`  ${filename}: ${paths.length} files`);

    await Deno.writeTextFile(
      `${dir}/package.json`,
      JSON.stringify({ name: "smoke", private: true, type: "module" }),
    );
    await run(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--prefer-offline",
        `./${filename}`,
        // The optional peers, as a user of every subpath would install them.
        ...Object.entries(npmImports(config)).map(([name, range]) => `${name}@${range}`),
      ],
      dir,
    );
    const subpaths = Object.keys(config.exports).map((subpath) => config.name + subpath.slice(1));
    const imported = await run("node", [
      "--input-type=module",
      "-e",
      `for (const name of ${JSON.stringify(subpaths)}) {
         const keys = Object.keys(await import(name));
         if (keys.length === 0) throw new Error("Cannot import " + name + ": no exports");
         console.log("  " + name + ": " + keys.join(", "));
       }`,
    ], dir);
    console.log(imported.trimEnd());
    // CommonJS: require() of every export gives the very modules that import() gave.
    const required = await run("node", [
      "--input-type=module",
      "-e",
      `import { createRequire } from "node:module";
       const require = createRequire(process.cwd() + "/");
       for (const name of ${JSON.stringify(subpaths)}) {
         if (require(name) !== await import(name)) {
           throw new Error("Cannot require " + name + ": not the module that import() gave");
         }
       }
       console.log("  require() gives the same modules as import()");`,
    ], dir);
    console.log(required.trimEnd());

    // Types: a consumer's TypeScript resolves every subpath through the "types" conditions.
    await Deno.writeTextFile(
      `${dir}/consumer.ts`,
      subpaths.map((name, i) => `import * as m${i} from "${name}";\nvoid m${i};\n`).join(""),
    );
    // And a CommonJS file, which require()s the ES build (Node 20.19+, 22.12+).
    await Deno.writeTextFile(
      `${dir}/consumer.cts`,
      subpaths.map((name, i) => `import m${i} = require("${name}");\nvoid m${i};\n`).join("") +
        `const { serve } = require("${config.name}") as typeof m0;\nvoid serve;\n`,
    );
    await Deno.writeTextFile(
      `${dir}/tsconfig.json`,
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: WEB_LIBS,
          types: ["node"],
          typeRoots: [`${ROOT}node_modules/@types`],
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["consumer.ts", "consumer.cts"],
      }),
    );
    await run(`${ROOT}node_modules/.bin/tsc`, ["--project", dir, "--pretty", "false"], dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function compileExtras(): Promise<void> {
  const scratch = `${OUT}/.extras`;
  const files = [
    ...(await listFiles("tests", isSource)),
    ...(await listFiles("examples", isSource)),
  ];
  if (files.length === 0) return;
  // Emits the sources they import too; only their own folders are kept, so that they run against
  // the package built above, not against a second compilation.
  await tsc(files, { ...emitOptions(config), rootDir: ".", outDir: scratch, sourceMap: true });
  const moved: [from: string, to: string][] = [];
  for await (const entry of Deno.readDir(`${ROOT}${scratch}`)) {
    if (entry.name === "src" || /^mod\.js(\.map)?$/.test(entry.name)) continue;
    // tests/ becomes test_dist/ at the same depth; examples/ (and anything else a test imports,
    // such as bench/) keeps its name.
    const target = entry.name === "tests" ? TEST_OUT : `${OUT}/${entry.name}`;
    await Deno.rename(`${ROOT}${scratch}/${entry.name}`, `${ROOT}${target}`);
    moved.push([entry.name, target]);
  }
  await Deno.remove(`${ROOT}${scratch}`, { recursive: true });
  // The maps were written one level deeper: point them at the sources by absolute URL so that
  // Node's stack traces name the .ts file and line.
  for (const [from, to] of moved) {
    for (const map of await listFiles(to, (path) => path.endsWith(".js.map"))) {
      const source = `${from}${map.slice(to.length).replace(/\.js\.map$/, ".ts")}`;
      const json = JSON.parse(await Deno.readTextFile(`${ROOT}${map}`));
      json.sourceRoot = "";
      json.sources = [new URL(source, `file://${ROOT}`).href];
      await Deno.writeTextFile(`${ROOT}${map}`, JSON.stringify(json));
    }
  }
  // Fixtures and any other non-TypeScript files, at the same relative place.
  for (const file of await listFiles("tests", (path) => !path.endsWith(".ts"))) {
    const target = `${ROOT}${TEST_OUT}/${file.slice("tests/".length)}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(`${ROOT}${file}`, target);
  }
}

function isSource(path: string): boolean {
  return path.endsWith(".ts") && !path.endsWith(".d.ts");
}

/** `./src/adapters/deno.ts` → `src/adapters/deno.js` */
function jsPath(file: string): string {
  return file.replace(/^\.\//, "").replace(/\.ts$/, ".js");
}

async function tsc(files: string[], options: Record<string, unknown>): Promise<void> {
  const { success, output } = await runTsc(files, options);
  if (output.trim() !== "") console.error(output.trimEnd());
  if (!success) fail("Cannot build: tsc failed");
}

async function run(command: string, args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    console.error(decoder.decode(stdout) + decoder.decode(stderr));
    fail(`Cannot build: "${command} ${args.join(" ")}" exited with code ${code}`);
  }
  return decoder.decode(stdout);
}

async function step(title: string, action: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  console.log(`build_npm: ${title}`);
  await action();
  console.log(`  done in ${seconds(start)}`);
}

function seconds(start: number): string {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

function fail(message: string): never {
  console.error(`build_npm: ${message}`);
  Deno.exit(1);
}
