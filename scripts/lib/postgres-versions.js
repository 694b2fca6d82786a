#!/usr/bin/env node
// Helper for scripts/postgres-versions (JSON handling; node is there anyway
// because the binaries come from the npm registry).
//
//   node postgres-versions.js pick MAJOR...     < versions.json
//       For each MAJOR prints "MAJOR VERSION", or "MAJOR -" when the package
//       has no version for it.  Package versions look like 15.18.0-beta.17:
//       the prerelease part is a packaging revision, not a PostgreSQL beta, so
//       the highest major.minor.patch wins, and among equal ones a version
//       without prerelease tag beats any prerelease, then the highest tag.
//   node postgres-versions.js majors            < versions.json
//       Prints the majors the package offers, one line, space separated.
//   node postgres-versions.js symlinks PKG_ROOT
//       Recreates the symlinks listed in PKG_ROOT/native/pg-symlinks.json:
//       [{"source": "native/lib/libpq.so.5.15", "target": "native/lib/libpq.so.5"}, ...]
//       Both paths are relative to PKG_ROOT; `target` is the link to create,
//       `source` the file it points at.  Links are made relative, so the tree
//       can be moved.  Prints the number of links created.
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`postgres-versions: error: ${msg}\n`);
  process.exit(1);
}

// Semver parsing/comparison (only what the package's versions need).
function parse(v) {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$/.exec(v);
  if (!m) return null;
  return { v, nums: [+m[1], +m[2], +m[3]], pre: m[4] ? m[4].split('.') : [] };
}

function cmpIdent(a, b) {
  const an = /^\d+$/.test(a), bn = /^\d+$/.test(b);
  if (an && bn) return Math.sign(+a - +b);
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmp(a, b) {
  for (let i = 0; i < 3; i++) if (a.nums[i] !== b.nums[i]) return Math.sign(a.nums[i] - b.nums[i]);
  if (!a.pre.length || !b.pre.length) return (a.pre.length ? -1 : 0) + (b.pre.length ? 1 : 0);
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const c = cmpIdent(a.pre[i], b.pre[i]);
    if (c) return c;
  }
  return Math.sign(a.pre.length - b.pre.length);
}

function readVersions() {
  let data;
  try {
    data = JSON.parse(fs.readFileSync(0, 'utf8'));
  } catch (e) {
    die(`could not parse the version list from npm: ${e.message}`);
  }
  if (typeof data === 'string') data = [data];
  if (!Array.isArray(data)) die('unexpected version list from npm (not a JSON array)');
  return data.map(parse).filter(Boolean);
}

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case 'pick': {
    const versions = readVersions();
    for (const major of args) {
      const best = versions
        .filter((p) => p.nums[0] === +major)
        .sort(cmp)
        .pop();
      process.stdout.write(`${major} ${best ? best.v : '-'}\n`);
    }
    break;
  }
  case 'majors': {
    const majors = [...new Set(readVersions().map((p) => p.nums[0]))].sort((a, b) => a - b);
    process.stdout.write(`${majors.join(' ')}\n`);
    break;
  }
  case 'symlinks': {
    const root = path.resolve(args[0] || die('symlinks: missing PKG_ROOT'));
    const file = path.join(root, 'native', 'pg-symlinks.json');
    if (!fs.existsSync(file)) {
      process.stdout.write('0\n');
      break;
    }
    let links;
    try {
      links = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      die(`${file}: ${e.message}`);
    }
    if (!Array.isArray(links)) die(`${file}: expected a JSON array`);
    const inside = (p) => p === root || p.startsWith(root + path.sep);
    let made = 0;
    for (const entry of links) {
      const { source, target } = entry || {};
      if (typeof source !== 'string' || typeof target !== 'string') {
        die(`${file}: entry without string source/target: ${JSON.stringify(entry)}`);
      }
      const src = path.resolve(root, source);
      const tgt = path.resolve(root, target);
      if (!inside(src) || !inside(tgt)) die(`${file}: path outside the package: ${JSON.stringify(entry)}`);
      if (!fs.existsSync(src)) die(`${file}: symlink source missing: ${source}`);
      const rel = path.relative(path.dirname(tgt), src);
      let existing = null;
      try {
        existing = fs.lstatSync(tgt);
      } catch (_) {
        /* absent */
      }
      if (existing) {
        if (existing.isSymbolicLink() && fs.readlinkSync(tgt) === rel) continue;
        die(`${file}: ${target} already exists and is not the expected link`);
      }
      fs.mkdirSync(path.dirname(tgt), { recursive: true });
      fs.symlinkSync(rel, tgt);
      made++;
    }
    process.stdout.write(`${made}\n`);
    break;
  }
  default:
    die(`postgres-versions.js: unknown command ${cmd || '(none)'}`);
}
