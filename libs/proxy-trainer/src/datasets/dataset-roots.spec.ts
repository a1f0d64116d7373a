import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { DatasetError } from './dataset';
import { DatasetPathError, isWithin, resolveDatasetFolder } from './dataset-roots';
import { loadDataset } from './index';

/** The problem of a refused path; fails the test when the path is accepted or fails otherwise. */
function problemOf(requested: string, roots: readonly string[]): string {
  try {
    resolveDatasetFolder(requested, roots);
  } catch (err) {
    if (err instanceof DatasetPathError) return err.problem;
    throw err;
  }
  throw new Error(`expected "${requested}" to be refused`);
}

function writePng(file: string, value: number): void {
  const png = new PNG({ width: 6, height: 6 });
  png.data.fill(value);
  fs.writeFileSync(file, PNG.sync.write(png));
}

describe('dataset roots', () => {
  let tmp: string;
  let root: string;
  let second: string;
  let outside: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-roots-'));
    root = path.join(tmp, 'datasets');
    second = path.join(tmp, 'more-datasets');
    outside = path.join(tmp, 'private-stuff');
    for (const d of [root, second, outside]) fs.mkdirSync(d);
    fs.mkdirSync(path.join(root, 'flowers', 'rose'), { recursive: true });
    fs.mkdirSync(path.join(second, 'cars'));
    fs.mkdirSync(path.join(outside, 'secret-class'));
    fs.writeFileSync(path.join(root, 'notes.txt'), 'not a folder');
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('tells whether a path lies under another, not fooled by a shared prefix or ..-named folders', () => {
    expect(isWithin('/a/b', '/a/b')).toBe(true);
    expect(isWithin('/a/b', '/a/b/c')).toBe(true);
    expect(isWithin('/a/b', '/a/bc')).toBe(false);
    expect(isWithin('/a/b', '/a')).toBe(false);
    expect(isWithin('/a/b', '/a/b/..c')).toBe(true);
  });

  it('resolves relative paths against the first root and absolute paths under any root', () => {
    const flowers = resolveDatasetFolder('flowers', [root, second]);
    expect(flowers).toEqual({
      path: fs.realpathSync(path.join(root, 'flowers')),
      root: fs.realpathSync(root),
      relative: 'flowers',
    });
    expect(resolveDatasetFolder('./flowers/../flowers', [root]).relative).toBe('flowers');
    expect(resolveDatasetFolder(path.join(second, 'cars'), [root, second]).relative).toBe('cars');
    // a symbolic link that stays under the roots is fine
    fs.symlinkSync(path.join(second, 'cars'), path.join(root, 'cars-link'));
    expect(resolveDatasetFolder('cars-link', [root, second]).path).toBe(
      fs.realpathSync(path.join(second, 'cars')),
    );
  });

  it('refuses paths that climb out, absolute paths elsewhere and symbolic links leading out', () => {
    expect(problemOf('../../etc', [root])).toBe('outside-roots');
    expect(problemOf('flowers/../../private-stuff', [root])).toBe('outside-roots');
    expect(problemOf('/etc', [root])).toBe('outside-roots');
    expect(problemOf(outside, [root, second])).toBe('outside-roots');
    fs.symlinkSync(outside, path.join(root, 'innocent'));
    expect(problemOf('innocent', [root])).toBe('symlink-outside-roots');
    expect(problemOf(path.join(root, 'innocent', 'secret-class'), [root])).toBe('symlink-outside-roots');
    // the whole root behind a link: judged by where it really is, both ways
    fs.symlinkSync(root, path.join(tmp, 'root-link'));
    expect(resolveDatasetFolder('flowers', [path.join(tmp, 'root-link')]).relative).toBe('flowers');
    expect(resolveDatasetFolder(path.join(root, 'flowers'), [path.join(tmp, 'root-link')]).relative).toBe(
      'flowers',
    );
  });

  it('refuses a missing folder, a file, the root itself, NUL characters and an empty root list', () => {
    expect(problemOf('tulips', [root])).toBe('not-found');
    expect(problemOf('notes.txt', [root])).toBe('not-a-folder');
    expect(problemOf('.', [root])).toBe('is-root');
    expect(problemOf(root, [root])).toBe('is-root');
    expect(problemOf('flowers\0', [root])).toBe('invalid');
    expect(problemOf('', [root])).toBe('invalid');
    expect(problemOf('flowers', [])).toBe('no-roots');
    expect(problemOf('flowers', [path.join(tmp, 'no-such-root')])).toBe('not-found');
  });

  it('never names a path in its reasons', () => {
    fs.symlinkSync(outside, path.join(root, 'innocent'));
    for (const requested of [
      '../../etc',
      '/etc/passwd',
      outside,
      'innocent',
      'innocent/secret-class',
      'tulips',
    ]) {
      try {
        resolveDatasetFolder(requested, [root]);
        throw new Error('accepted');
      } catch (err) {
        const message = (err as Error).message;
        expect(err).toBeInstanceOf(DatasetPathError);
        expect(message).not.toContain(tmp);
        expect(message).not.toMatch(/etc|passwd|private-stuff|secret-class|tulips|innocent/);
      }
    }
  });

  it('loads an image folder only from under the roots; an image linked from outside is named, not followed', () => {
    for (const [cls, value] of [
      ['dark', 20],
      ['light', 230],
    ] as const) {
      fs.mkdirSync(path.join(root, 'shades', cls), { recursive: true });
      for (let i = 0; i < 3; i++) writePng(path.join(root, 'shades', cls, `${i}.png`), value);
    }
    const spec = { kind: 'image-folder' as const, path: 'shades', valFraction: 0.34 };
    const loaded = loadDataset(spec, { seed: 1, resolution: 8, datasetRoots: [root] });
    expect(loaded.classNames).toEqual(['dark', 'light']);
    expect(() =>
      loadDataset({ ...spec, path: '../private-stuff' }, { seed: 1, resolution: 8, datasetRoots: [root] }),
    ).toThrow(DatasetPathError);

    writePng(path.join(outside, 'leak.png'), 100);
    fs.symlinkSync(path.join(outside, 'leak.png'), path.join(root, 'shades', 'dark', 'linked.png'));
    let error: unknown;
    try {
      loadDataset(spec, { seed: 1, resolution: 8, datasetRoots: [root] });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toContain('dark/linked.png');
    expect((error as Error).message).not.toMatch(/private-stuff|leak/);
    // without roots (library use) the link is read as before
    expect(
      loadDataset({ ...spec, path: path.join(root, 'shades') }, { seed: 1, resolution: 8 }).train.count,
    ).toBe(5);
  });
});
