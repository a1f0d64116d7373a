#!/usr/bin/env node
// The EdgeNAS CLI; the compiled code lives in dist/ (run `npm run build` first).
const path = require('path');
const fs = require('fs');

const main = path.join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write(
    `edgenas: ${main} not found; run \`npm run build\` in ${path.join(__dirname, '..')} first\n`,
  );
  process.exit(1);
}
require(main);
