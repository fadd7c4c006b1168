#!/usr/bin/env node
'use strict';
/**
 * Leaves in a pruned node_modules only what runs: JavaScript and JSON files (data such
 * as iconv-lite's tables included), no tests, examples, documentation, TypeScript
 * sources or declarations, source maps, dotfiles or lint and build configurations.
 * A module left with nothing to run (type declarations only, e.g. @types/node) goes
 * entirely. Files end up 0644, folders 0755; a script with a #! line (a module's own
 * command-line tool, such as sdp-transform's checker.js) 0755.
 *
 *   node etc/debian/strip-modules.js <node_modules>                  keeps licence files
 *   node etc/debian/strip-modules.js --licence-files <node_modules>  removes them
 *
 * Licence files stay in the first pass so that copyright.js can read them; their
 * content then lives in the package's copyright file and the second pass removes them.
 */
const fs = require('node:fs');
const path = require('node:path');

const LICENCE_FILE = /^(licen[cs]e|copying)([-.](md|txt|mit|markdown))?$/i;
/** What a module runs: its code and its data. */
const RUNTIME_FILE = /\.(js|cjs|mjs|json|node)$/;
/** Files with a runtime extension that still do not run. */
const NOT_RUNTIME_FILE = /^(tsconfig.*\.json|.*\.(spec|test)\.[cm]?js|(eslint|prettier|rollup|webpack|babel|jest|karma)\.config\.[cm]?js|bower\.json|package-lock\.json)$/;
/** Folders directly in a module that hold no runtime code. */
const NOT_RUNTIME_FOLDER = /^(test|tests|__tests__|spec|specs|bench|benchmark|benchmarks|example|examples|doc|docs|typings|tmp|coverage)$/;
/** Module folders that the names above miss, each checked by hand. */
const NOT_RUNTIME_PATHS = new Set([
  'drachtio-srf/config', // settings of its own tests, read through its devDependency `config`
]);

/** Every module folder under node_modules (scoped and nested ones too), parents first. */
function modules(nodeModules) {
  if (!fs.existsSync(nodeModules)) return [];
  const found = [];
  for (const name of fs.readdirSync(nodeModules).sort()) {
    const dir = path.join(nodeModules, name);
    if (name.startsWith('.') || !fs.statSync(dir).isDirectory()) continue;
    const dirs = name.startsWith('@') ? fs.readdirSync(dir).sort().map((inner) => path.join(dir, inner)) : [dir];
    for (const moduleDir of dirs.filter((d) => fs.existsSync(path.join(d, 'package.json')))) {
      found.push(moduleDir, ...modules(path.join(moduleDir, 'node_modules')));
    }
  }
  return found;
}

/** `drachtio-srf/config` for …/node_modules/drachtio-srf/config. */
function moduleName(file) {
  return file.split(`node_modules${path.sep}`).pop();
}

function isScript(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const start = Buffer.alloc(2);
    return fs.readSync(fd, start, 0, 2, 0) === 2 && start.toString() === '#!';
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes what does not run below `dir`; returns whether a runtime file is left. */
function strip(dir, moduleTop) {
  let runs = false;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules') { // modules of their own, stripped before this one
        if (fs.readdirSync(file).length === 0) fs.rmdirSync(file);
        else runs = true;
        continue;
      }
      const dropped = entry.name.startsWith('.') || (moduleTop && NOT_RUNTIME_FOLDER.test(entry.name)) || NOT_RUNTIME_PATHS.has(moduleName(file));
      if (dropped || !strip(file, false)) {
        fs.rmSync(file, { recursive: true, force: true });
      } else {
        fs.chmodSync(file, 0o755);
        runs = true;
      }
    } else if (!entry.name.startsWith('.') && (LICENCE_FILE.test(entry.name) || (RUNTIME_FILE.test(entry.name) && !NOT_RUNTIME_FILE.test(entry.name)))) {
      fs.chmodSync(file, isScript(file) ? 0o755 : 0o644);
      runs ||= !LICENCE_FILE.test(entry.name) && !(moduleTop && entry.name === 'package.json');
    } else {
      fs.rmSync(file, { force: true });
    }
  }
  return runs;
}

function main() {
  const removeLicences = process.argv[2] === '--licence-files';
  const nodeModules = process.argv[removeLicences ? 3 : 2];
  if (!nodeModules || !fs.existsSync(nodeModules)) {
    process.stderr.write('usage: strip-modules.js [--licence-files] <node_modules>\n');
    process.exit(1);
  }
  // Deepest first, so that a nested module is stripped before its parent is judged.
  for (const dir of modules(nodeModules).reverse()) {
    if (removeLicences) {
      for (const name of fs.readdirSync(dir).filter((n) => LICENCE_FILE.test(n))) fs.rmSync(path.join(dir, name));
    } else if (!strip(dir, true)) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const entry of fs.readdirSync(nodeModules)) {
    const dir = path.join(nodeModules, entry);
    if (entry.startsWith('.')) fs.rmSync(dir, { recursive: true, force: true }); // npm's .package-lock.json, .bin
    else if (entry.startsWith('@') && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
}

module.exports = { LICENCE_FILE, modules };
if (require.main === module) main();
