/**
 * The install step that builds tfjs-node against the pinned TensorFlow wheel refuses a downloaded wheel whose
 * sha256 is not the pinned one, naming the file (the download itself is exercised by every `npm ci`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const installer = require('../scripts/install-tfjs-node.js') as {
  checkWheelHash(file: string, expected: string): void;
  pinnedWheel(): { file: string; sha256: string } | undefined;
};

describe('install-tfjs-node', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-wheel-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a file with the pinned sha256 and refuses another, naming the file', () => {
    const file = join(
      dir,
      'tensorflow_cpu-2.12.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    );
    writeFileSync(file, 'not really a wheel');
    const sha = createHash('sha256').update('not really a wheel').digest('hex');
    expect(() => installer.checkWheelHash(file, sha)).not.toThrow();
    expect(() => installer.checkWheelHash(file, '0'.repeat(64))).toThrow(
      /refused tensorflow_cpu-2\.12\.0-cp311-cp311-manylinux_2_17_x86_64\.manylinux2014_x86_64\.whl: its sha256 is [0-9a-f]{64}, the pinned one is 0{64}/,
    );
  });

  it('pins one wheel file by name and sha256 for linux-x64', () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    expect(installer.pinnedWheel()).toMatchObject({
      file: expect.stringMatching(/^tensorflow_cpu-2\.12\.0-.*\.whl$/),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });
});
