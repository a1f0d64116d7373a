#!/usr/bin/env node
// Finds a Chromium for the browser tests; installs Debian's `chromium` package when it is missing and we are
// root (CI on a fresh machine). Prints the executable's path. Usage: node scripts/ensure-chromium.js
const { execFileSync } = require('child_process');
const fs = require('fs');

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
  Boolean,
);

function find() {
  return CANDIDATES.find((p) => fs.existsSync(p));
}

function ensureChromium(log = (line) => process.stderr.write(`${line}\n`)) {
  const found = find();
  if (found) return found;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error(
      'Chromium not found (looked at ' +
        CANDIDATES.join(', ') +
        '); install it (apt-get install chromium) or set CHROMIUM_PATH',
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log('installing Debian package chromium for the browser tests (apt-get)…');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
  const installed = find();
  if (!installed) throw new Error('apt-get installed chromium but no executable was found');
  return installed;
}

module.exports = { ensureChromium };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureChromium()}\n`);
  } catch (err) {
    process.stderr.write(`ensure-chromium: ${err.message}\n`);
    process.exit(1);
  }
}
