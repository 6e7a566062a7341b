#!/usr/bin/env node
// gancho-build-js [DIR] [--out FILE] [--wit PATH]: turns a JavaScript plugin directory into a Gancho
// component with QuickJS (componentize-qjs), importing nothing but `gancho:plugin/log` and `gancho:plugin/time`: WASI is stubbed
// out and the runtime is the synchronous one (the host has no component-model async). `gancho plugin
// build` runs this for a directory whose package.json depends on @gancho/plugin-sdk and componentize-qjs.
//
// componentize-qjs is the plugin's own dependency (a peer of this SDK), resolved from the plugin's directory:
// never from the SDK's real path, since npm does not install the dependencies of an SDK linked with `file:`.

import { mkdirSync, readFileSync, realpathSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SDK_DIR = realpathSync(fileURLToPath(new URL("..", import.meta.url)));

/** The componentize-qjs version this SDK is built and tested with: what a plugin's package.json pins. */
const TOOLCHAIN_VERSION = JSON.parse(readFileSync(path.join(SDK_DIR, "package.json"), "utf8")).peerDependencies["componentize-qjs"];

function usage(message) {
  console.error(`gancho-build-js: ${message}\nusage: gancho-build-js [DIR] [--out FILE] [--wit PATH]`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { dir: ".", out: null, wit: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--out" || arg === "-o") args.out = argv[++i];
    else if (arg === "--wit") args.wit = argv[++i];
    else if (arg.startsWith("-")) usage(`unknown option ${arg}`);
    else args.dir = arg;
  }
  return args;
}

/** The directories' deepest common ancestor: what QuickJS may read while it snapshots the plugin. */
function commonAncestor(a, b) {
  const left = a.split(path.sep);
  const right = b.split(path.sep);
  let i = 0;
  while (i < left.length && i < right.length && left[i] === right[i]) i++;
  return left.slice(0, i).join(path.sep) || path.sep;
}

/** componentize-qjs as the plugin in `dir` has it installed, or an error that says what to run. */
function toolchain(dir) {
  const require = createRequire(path.join(dir, "package.json"));
  try {
    require.resolve("componentize-qjs");
  } catch {
    console.error(
      `gancho-build-js: componentize-qjs (the QuickJS toolchain) is not installed for ${dir}; run \`npm install\` ` +
        `there and build again (its package.json must list "componentize-qjs": "${TOOLCHAIN_VERSION}" in ` +
        `devDependencies: \`npm install --save-dev --save-exact componentize-qjs@${TOOLCHAIN_VERSION}\` adds it)`,
    );
    process.exit(1);
  }
  return require("componentize-qjs");
}

/** Whether the plugin module exports a `merge` function: loaded in node as its tests load it, else read. */
async function exportsMerge(main) {
  try {
    return typeof (await import(pathToFileURL(main).href)).merge === "function";
  } catch {
    const source = readFileSync(main, "utf8");
    return /export\s+(async\s+)?function\s+merge\b|export\s+(const|let|var)\s+merge\b|export\s*\{[^}]*\bmerge\b/.test(source);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = realpathSync(args.dir);
  const manifestPath = path.join(dir, "package.json");
  if (!existsSync(manifestPath)) usage(`${manifestPath}: not found; a JavaScript plugin directory has a package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const { componentize } = toolchain(dir);
  const main = path.join(dir, manifest.main || "plugin.js");
  if (!existsSync(main)) usage(`${manifestPath}: field "main" names ${main}, which does not exist`);
  const wit = args.wit ? path.resolve(args.wit) : path.join(SDK_DIR, "..", "..", "wit");
  if (!existsSync(wit)) usage(`${wit}: no WIT here; pass --wit with the path of Gancho's wit/plugin.wit`);
  const name = String(manifest.name || "plugin").replace(/^@[^/]+\//, "").replace(/[^a-z0-9_-]/gi, "_");
  const out = path.resolve(args.out || path.join(dir, "build", `${name}.wasm`));

  // The component's entry: the host's log import and the plugin, bridged by the SDK's entry.
  const buildDir = path.join(dir, "build");
  mkdirSync(buildDir, { recursive: true });
  const entryPath = path.join(buildDir, "component-entry.js");
  const relative = (to) => {
    const rel = path.relative(buildDir, to).split(path.sep).join("/");
    return rel.startsWith(".") ? rel : `./${rel}`;
  };
  // A component exports every function of its world: a plugin that merges is built against
  // `merging-plugin`, any other against `plugin` (and is delivered one request at a time).
  const merges = await exportsMerge(main);
  const entry = [
    `import hostLog from "gancho:plugin/log@0.1.3";`,
    `import hostTime from "gancho:plugin/time@0.1.3";`,
    `import * as plugin from ${JSON.stringify(relative(main))};`,
    `import { exportsFor } from ${JSON.stringify(relative(path.join(SDK_DIR, "src", "entry.js")))};`,
    `const entry = exportsFor(plugin, hostLog, hostTime);`,
    `export function transform(event, subscription) { return entry.transform(event, subscription); }`,
    `export function validateConfig(config) { return entry.validateConfig(config); }`,
    ...(merges ? [`export function merge(requests, subscription) { return entry.merge(requests, subscription); }`] : []),
    ``,
  ].join("\n");
  writeFileSync(entryPath, entry);

  const started = Date.now();
  const { component } = await componentize({
    witPath: wit,
    jsSource: entry,
    jsPath: entryPath,
    moduleRoot: commonAncestor(dir, SDK_DIR),
    world: merges ? "merging-plugin" : "plugin",
    stubWasi: true,
    sync: true,
  });
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, component);
  console.error(`gancho-build-js: ${path.relative(process.cwd(), out) || out} (${component.length} bytes, ${Date.now() - started} ms)`);
  console.log(out);
}

main().catch((error) => {
  console.error(`gancho-build-js: ${error && error.message ? error.message : error}`);
  process.exit(1);
});
