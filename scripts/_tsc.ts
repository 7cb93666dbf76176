/**
 * Shared helpers of the build scripts: the repository's paths, its `deno.json`, and a way to run
 * the TypeScript compiler from `node_modules` on a generated `tsconfig.json`.
 *
 * @module
 */

/** The repository root, with a trailing slash. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** The fields of `deno.json` the scripts read. */
export interface DenoConfig {
  /** The package name, such as `@netws/server`. */
  name: string;
  /** The package version. */
  version: string;
  /** The license identifier. */
  license?: string;
  /** Subpath (`.`, `./deno`) to source file (`./mod.ts`). */
  exports: Record<string, string>;
  /** Compiler options shared by `deno check` and `tsc`. */
  compilerOptions?: Record<string, unknown>;
  /** The import map: bare specifier to `./file.ts` or `npm:name@range`. */
  imports?: Record<string, string>;
}

/**
 * The npm packages the sources import, from the `npm:name@range` entries of `deno.json`'s import
 * map: name to version range. Each is an optional peer dependency of the npm package, needed only
 * by the subpath that imports it (the `ioredis` client by `./redis`).
 */
export function npmImports(config: DenoConfig): Record<string, string> {
  const packages: Record<string, string> = {};
  for (const [specifier, target] of Object.entries(config.imports ?? {})) {
    const match = /^npm:((?:@[^/@]+\/)?[^/@]+)@([^/]+)$/.exec(target);
    if (match === null) continue;
    if (match[1] !== specifier) {
      throw new Error(
        `Cannot read deno.json: import "${specifier}" must map to its own package, not "${target}"`,
      );
    }
    packages[match[1]!] = match[2]!;
  }
  return packages;
}

/** Reads and validates `deno.json`: the single source of truth for name, version and exports. */
export async function readDenoConfig(): Promise<DenoConfig> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  if (typeof config.name !== "string" || typeof config.version !== "string") {
    throw new Error('Cannot read deno.json: "name" and "version" must be strings');
  }
  const exports = typeof config.exports === "string" ? { ".": config.exports } : config.exports;
  if (typeof exports !== "object" || exports === null || !("." in exports)) {
    throw new Error('Cannot read deno.json: "exports" must have a "." entry');
  }
  for (const [subpath, file] of Object.entries(exports)) {
    if (typeof file !== "string" || !/^\.\/.+\.ts$/.test(file)) {
      throw new Error(`Cannot read deno.json: export "${subpath}" must point at a ./*.ts file`);
    }
  }
  return { ...config, exports };
}

/**
 * The strictness options of `deno.json`, for `tsc`. Options only Deno understands (`lib` names
 * such as `deno.window`, `types`, JSX settings) are left out.
 */
export function sharedCompilerOptions(config: DenoConfig): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config.compilerOptions ?? {})) {
    if (key === "lib" || key === "types" || key.startsWith("jsx")) continue;
    options[key] = value;
  }
  return options;
}

/**
 * The web-platform libraries every runtime (Node 20, Deno, Bun) provides. ES2023 is the newest
 * edition Node 20 implements in full.
 */
export const WEB_LIBS: readonly string[] = ["es2023", "dom", "dom.iterable", "dom.asynciterable"];

/** Lists the files under `dir` (relative to the root) whose path matches `keep`, sorted. */
export async function listFiles(dir: string, keep: (path: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  async function walk(path: string): Promise<void> {
    for await (const entry of Deno.readDir(`${ROOT}${path}`)) {
      const child = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(child);
      else if (entry.isFile && keep(child)) found.push(child);
    }
  }
  const start = dir.replace(/\/$/, "");
  if (await exists(start)) await walk(start);
  return found.sort();
}

/** Whether `path` (relative to the root) exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(`${ROOT}${path}`);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The result of one `tsc` run. */
export interface TscResult {
  /** Whether tsc exited with status 0. */
  success: boolean;
  /** What tsc printed (diagnostics), stdout and stderr together. */
  output: string;
}

/**
 * Runs `node_modules/.bin/tsc` on a `tsconfig.json` written to a temporary folder. `files` are
 * relative to the root; so are `rootDir` and `outDir` if given in `compilerOptions`.
 */
export async function runTsc(
  files: readonly string[],
  compilerOptions: Record<string, unknown>,
): Promise<TscResult> {
  const bin = `node_modules/.bin/${Deno.build.os === "windows" ? "tsc.cmd" : "tsc"}`;
  if (!(await exists(bin))) {
    throw new Error(`Cannot run tsc: ${bin} is missing, run "npm install" first`);
  }
  const tsc = `${ROOT}${bin}`;
  const options = { ...compilerOptions };
  for (const key of ["rootDir", "outDir"]) {
    if (typeof options[key] === "string") options[key] = `${ROOT}${options[key]}`;
  }
  const dir = await Deno.makeTempDir({ prefix: "netws-tsc-" });
  try {
    const project = `${dir}/tsconfig.json`;
    await Deno.writeTextFile(
      project,
      JSON.stringify({ compilerOptions: options, files: files.map((file) => `${ROOT}${file}`) }),
    );
    const { code, stdout, stderr } = await new Deno.Command(tsc, {
      args: ["--project", project, "--pretty", "false"],
      cwd: ROOT,
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    const output = decoder.decode(stdout) + decoder.decode(stderr);
    // tsc prints absolute paths for a project outside the root: show them relative to it.
    return { success: code === 0, output: output.replaceAll(ROOT, "") };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
