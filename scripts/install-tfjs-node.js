#!/usr/bin/env node
// Makes @tensorflow/tfjs-node (native TensorFlow for training) work without its own download step, which
// fetches libtensorflow and a prebuilt binding from a host outside the package registries:
//  1. fetches the pinned `tensorflow-cpu` wheel from PyPI with pip (as install-temporal.js does) and checks
//     its sha256;
//  2. takes out the two TensorFlow libraries and the C API headers into .tools/libtensorflow-<version>/;
//  3. points the package's deps/ at them and builds its binding (binding.gyp, binding/*.cc) with npm's own
//     node-gyp against this Node's headers;
//  4. loads the package once as a check.
// Never fails the install: without Python, pip, a compiler or Node headers, training uses wasm, and one
// line says why. EDGENAS_SKIP_NATIVE_TRAINING=1 skips all of it on purpose.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Buffer } = require('node:buffer');

/**
 * The wheel, per platform. The C library inside does not depend on the Python version, so pip is asked for
 * one fixed file (tag pinned with --platform/--python-version) whatever Python runs it. 2.12 is the oldest
 * wheel whose C API lives in its own library (2.9–2.11 need a Python process) and passed tfjs-core's suite.
 */
const TENSORFLOW_VERSION = '2.12.0';
const WHEELS = {
  'linux-x64': {
    file: 'tensorflow_cpu-2.12.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    sha256: 'e8c7047552a2d759f3e65ac13e36dd24bb5fec2e6576e848287811ec44b3d62f',
    pipTarget: [
      '--platform',
      'manylinux2014_x86_64',
      '--python-version',
      '3.11',
      '--implementation',
      'cp',
      '--abi',
      'cp311',
    ],
  },
};
/** Members of the wheel to take out (prefix match), and where they go under the .tools directory. */
const LIBRARIES = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
const HEADER_PREFIXES = [
  'tensorflow/include/tensorflow/c/',
  'tensorflow/include/tensorflow/tsl/c/',
  'tensorflow/include/tensorflow/core/platform/ctstring',
  'tensorflow/include/tensorflow/tsl/platform/ctstring',
  // Where newer wheels keep the same headers.
  'tensorflow/include/xla/tsl/c/',
  'tensorflow/include/tsl/platform/ctstring',
];

const root = path.resolve(__dirname, '..');
const libtensorflowDir = path.join(root, '.tools', `libtensorflow-${TENSORFLOW_VERSION}`);
const buildLog = path.join(root, '.tools', 'tfjs-node-build.log');
const installRecord = path.join(root, '.tools', 'tfjs-node-install.json');

function log(message) {
  process.stdout.write(`[edgenas] ${message}\n`);
}

/** The one line a user sees when native training is not available. */
function useWasm(reason) {
  log(`native training unavailable, training will use wasm: ${reason}`);
}

class InstallError extends Error {}

function firstLine(err) {
  return String(err && err.message ? err.message : err).split('\n')[0];
}

function onPath(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function findPython() {
  return ['python3', 'python'].find(
    (cmd) => spawnSync(cmd, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0,
  );
}

function packageDir() {
  try {
    return path.dirname(require.resolve('@tensorflow/tfjs-node/package.json', { paths: [root] }));
  } catch {
    return undefined;
  }
}

/** Where node-pre-gyp (and so the package at run time) looks for the binding. */
function bindingPath(pkgDir) {
  const preGyp = require(require.resolve('@mapbox/node-pre-gyp', { paths: [pkgDir] }));
  return preGyp.find(path.join(pkgDir, 'package.json'));
}

/** True when `file` loads in a fresh Node process (a failing dlopen must not take this script down). */
function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
  return r.status === 0
    ? undefined
    : (r.stderr || '').split('\n').find((l) => l.includes('Error')) || `exit ${r.status}`;
}

/** Bytes on disk under `file` (symlinks not followed). */
function diskBytes(file) {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.blocks * 512;
  return fs.readdirSync(file).reduce((n, name) => n + diskBytes(path.join(file, name)), st.blocks * 512);
}

function realpath(file) {
  try {
    return fs.realpathSync(file);
  } catch {
    return undefined;
  }
}

function sha256(file) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    let n;
    while ((n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Refuses a downloaded file whose sha256 is not the pinned one. */
function checkWheelHash(file, expected) {
  const actual = sha256(file);
  if (actual !== expected) {
    throw new InstallError(
      `refused ${path.basename(file)}: its sha256 is ${actual}, the pinned one is ${expected}`,
    );
  }
}

/** Downloads the pinned wheel into `dir` with pip and checks its hash; returns its path. */
function downloadWheel(python, wheel, dir) {
  log(`fetching tensorflow-cpu==${TENSORFLOW_VERSION} (${wheel.file}) from PyPI …`);
  const pip = spawnSync(
    python,
    [
      '-m',
      'pip',
      'download',
      '--quiet',
      '--no-deps',
      '--only-binary=:all:',
      ...wheel.pipTarget,
      '-d',
      dir,
      `tensorflow-cpu==${TENSORFLOW_VERSION}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (pip.status !== 0) {
    const why = (pip.stderr || '').trim().split('\n').filter(Boolean).pop() || `exit ${pip.status}`;
    throw new InstallError(`pip could not download tensorflow-cpu==${TENSORFLOW_VERSION} (${why})`);
  }
  const file = path.join(dir, wheel.file);
  if (!fs.existsSync(file)) {
    throw new InstallError(
      `pip produced ${fs.readdirSync(dir).join(', ') || 'no file'}, not the pinned ${wheel.file}`,
    );
  }
  checkWheelHash(file, wheel.sha256);
  return file;
}

/** Downloads the pinned wheel, checks its hash, and takes the libraries and headers out of it. */
function fetchLibtensorflow(wheel) {
  const python = findPython();
  if (!python)
    throw new InstallError('no Python with pip found (needed to fetch the tensorflow-cpu wheel from PyPI)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-tensorflow-'));
  const partial = `${libtensorflowDir}.partial`;
  try {
    const file = downloadWheel(python, wheel, tmp);
    fs.rmSync(partial, { recursive: true, force: true });
    // A wheel is a zip; Python's zipfile is always there when pip is.
    const extract = [
      'import json, os, sys, zipfile',
      'wheel, out, libs, prefixes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])',
      'z = zipfile.ZipFile(wheel)',
      'for n in z.namelist():',
      '    if n.endswith("/"): continue',
      '    base = n[len("tensorflow/"):]',
      '    if base in libs: dest = os.path.join(out, "lib", base)',
      '    elif any(n.startswith(p) for p in prefixes): dest = os.path.join(out, base)',
      '    else: continue',
      '    os.makedirs(os.path.dirname(dest), exist_ok=True)',
      '    with z.open(n) as src, open(dest, "wb") as dst:',
      '        while True:',
      '            chunk = src.read(1 << 20)',
      '            if not chunk: break',
      '            dst.write(chunk)',
    ].join('\n');
    execFileSync(python, [
      '-c',
      extract,
      file,
      partial,
      JSON.stringify(LIBRARIES),
      JSON.stringify(HEADER_PREFIXES),
    ]);
    for (const lib of LIBRARIES) {
      if (!fs.existsSync(path.join(partial, 'lib', lib)))
        throw new InstallError(`${wheel.file} has no tensorflow/${lib}`);
    }
    // Link-time names (-ltensorflow -ltensorflow_framework); the sonames stay for loading.
    fs.symlinkSync('libtensorflow_cc.so.2', path.join(partial, 'lib', 'libtensorflow.so'));
    fs.symlinkSync('libtensorflow_framework.so.2', path.join(partial, 'lib', 'libtensorflow_framework.so'));
    fs.rmSync(libtensorflowDir, { recursive: true, force: true });
    fs.renameSync(partial, libtensorflowDir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(partial, { recursive: true, force: true });
  }
}

/** The headers of the running Node (node-gyp would otherwise download them). */
function nodeHeadersDir() {
  const candidates = [path.resolve(path.dirname(process.execPath), '..'), '/usr', '/usr/local'];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')));
}

/** npm's bundled node-gyp (npm names it to lifecycle scripts; else beside the npm that runs us). */
function nodeGypScript() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath &&
      path.join(
        path.dirname(process.env.npm_execpath),
        '..',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js',
      ),
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  return candidates.find((file) => file && fs.existsSync(file));
}

function buildBinding(pkgDir, binding) {
  const nodedir = nodeHeadersDir();
  if (!nodedir)
    throw new InstallError(`no Node headers (include/node/node_api.h) beside ${process.execPath}`);
  const nodeGyp = nodeGypScript();
  if (!nodeGyp) throw new InstallError("npm's node-gyp not found");
  if (!onPath('make') || !(onPath('c++') || onPath('g++')))
    throw new InstallError('no C++ compiler or make on PATH');
  // deps/ is where binding.gyp looks for include/ and lib/ (and the binding's RUNPATH, $ORIGIN/../../deps/lib).
  const deps = path.join(pkgDir, 'deps');
  // A binding left from an earlier build must not pass for this one if this build fails.
  fs.rmSync(binding, { force: true });
  fs.rmSync(deps, { recursive: true, force: true });
  fs.symlinkSync(path.relative(pkgDir, libtensorflowDir), deps);
  const napiVersion = /napi-v(\d+)/.exec(binding)[1];
  const args = [
    nodeGyp,
    'rebuild',
    `--nodedir=${nodedir}`,
    `--module_path=${path.dirname(binding)}`,
    `--module_name=${path.basename(binding, '.node')}`,
    `--napi_build_version=${napiVersion}`,
    `--jobs=${Math.max(1, Math.min(2, os.cpus().length))}`,
  ];
  const r = spawnSync(process.execPath, args, {
    cwd: pkgDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  fs.writeFileSync(buildLog, `${r.stdout || ''}${r.stderr || ''}`);
  if (r.status !== 0)
    throw new InstallError(`the binding did not build (see ${path.relative(root, buildLog)})`);
  if (!fs.existsSync(binding)) throw new InstallError(`the build left no ${path.relative(root, binding)}`);
}

function main() {
  if (process.env.EDGENAS_SKIP_NATIVE_TRAINING === '1') return useWasm('EDGENAS_SKIP_NATIVE_TRAINING=1');
  const pkgDir = packageDir();
  if (!pkgDir) return useWasm('@tensorflow/tfjs-node is not installed (an optional dependency)');
  const wheel = WHEELS[`${process.platform}-${process.arch}`];
  if (!wheel) return useWasm(`no pinned TensorFlow wheel for ${process.platform}-${process.arch}`);
  const started = Date.now();
  try {
    const binding = bindingPath(pkgDir);
    const linked = path.join(pkgDir, 'deps');
    const current =
      fs.existsSync(binding) &&
      realpath(linked) === realpath(libtensorflowDir) &&
      loads(binding) === undefined;
    if (current)
      return log(`native training ready: tfjs-node built against TensorFlow ${TENSORFLOW_VERSION}`);
    const haveLibraries = LIBRARIES.every((lib) => fs.existsSync(path.join(libtensorflowDir, 'lib', lib)));
    if (!haveLibraries) fetchLibtensorflow(wheel);
    buildBinding(pkgDir, binding);
    const failure = loads(pkgDir);
    if (failure) throw new InstallError(`the built binding does not load (${failure})`);
    // What the native build cost, for the training bench.
    const record = {
      tensorflow: TENSORFLOW_VERSION,
      seconds: (Date.now() - started) / 1000,
      downloaded: !haveLibraries,
      bytes: diskBytes(libtensorflowDir) + diskBytes(path.join(pkgDir, 'build')) + diskBytes(binding),
    };
    fs.writeFileSync(installRecord, `${JSON.stringify(record, null, 2)}\n`);
    log(
      `native training ready: tfjs-node built against TensorFlow ${TENSORFLOW_VERSION} ` +
        `(${path.relative(root, libtensorflowDir)}, ${((Date.now() - started) / 1000).toFixed(0)} s)`,
    );
  } catch (err) {
    useWasm(err instanceof InstallError ? err.message : firstLine(err));
  }
}

if (require.main === module) main();
else {
  module.exports = {
    TENSORFLOW_VERSION,
    InstallError,
    checkWheelHash,
    downloadWheel,
    findPython,
    pinnedWheel: () => WHEELS[`${process.platform}-${process.arch}`],
  };
}
