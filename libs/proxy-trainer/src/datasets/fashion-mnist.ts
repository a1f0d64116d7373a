import * as fs from 'fs';
import * as path from 'path';
import { createRandom, shuffledIndices } from '../random';
import {
  Dataset,
  DatasetError,
  DatasetLoadOptions,
  DatasetSplit,
  DEFAULT_DATA_DIR,
  resizeBilinearInto,
  standardise,
} from './dataset';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const CACHE_MAGIC = 'FMNISTU8';

/** All images as bytes (one copy per process), labels alongside. */
export interface FashionMnistBytes {
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

let loaded: FashionMnistBytes | undefined;

function packageDirectory(): string {
  // The package's own entry file is missing from its published files; its per-class JSON files are the data.
  return path.join(path.dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes');
}

function readCache(file: string): FashionMnistBytes | undefined {
  if (!fs.existsSync(file)) return undefined;
  const buf = fs.readFileSync(file);
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== CACHE_MAGIC) return undefined;
  const count = buf.readUInt32LE(8);
  if (buf.length !== 12 + count * (PIXELS + 1)) return undefined;
  const labels = new Uint8Array(buf.buffer, buf.byteOffset + 12, count);
  const pixels = new Uint8Array(buf.buffer, buf.byteOffset + 12 + count, count * PIXELS);
  return { pixels, labels, count };
}

function writeCache(file: string, data: FashionMnistBytes): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const header = Buffer.alloc(12);
    header.write(CACHE_MAGIC, 0, 'latin1');
    header.writeUInt32LE(data.count, 8);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([header, Buffer.from(data.labels), Buffer.from(data.pixels)]));
    fs.renameSync(tmp, file);
  } catch {
    // A cache is an optimisation; a read-only data dir only costs the JSON parse next time.
  }
}

function parsePackage(): FashionMnistBytes {
  const dir = packageDirectory();
  const perClass: Uint8Array[] = [];
  for (let c = 0; c < FASHION_MNIST_CLASSES.length; c++) {
    const file = path.join(dir, `${c}.json`);
    let rows: unknown;
    try {
      rows = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (err) {
      throw new DatasetError(`fashion-mnist: cannot read ${file}: ${(err as Error).message}`);
    }
    if (!Array.isArray(rows)) throw new DatasetError(`fashion-mnist: ${file} has no "data" array`);
    // The package's class-0 file carries two empty entries; they are skipped (70,000 images remain).
    const images = rows.filter((row: unknown) => !(Array.isArray(row) && row.length === 0));
    const bytes = new Uint8Array(images.length * PIXELS);
    images.forEach((row: unknown, i) => {
      if (!Array.isArray(row) || row.length !== PIXELS) {
        throw new DatasetError(`fashion-mnist: ${file} image ${i} does not have ${PIXELS} pixels`);
      }
      bytes.set(row as number[], i * PIXELS);
    });
    perClass.push(bytes);
  }
  const count = perClass.reduce((n, b) => n + b.length / PIXELS, 0);
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let offset = 0;
  perClass.forEach((bytes, c) => {
    pixels.set(bytes, offset * PIXELS);
    labels.fill(c, offset, offset + bytes.length / PIXELS);
    offset += bytes.length / PIXELS;
  });
  return { pixels, labels, count };
}

/**
 * All 70k Fashion-MNIST images as bytes, parsed once per process from the `fashion-mnist` package and cached
 * as one binary file under `<dataDir>/datasets/` so later processes skip the JSON parse.
 */
export function loadFashionMnistBytes(dataDir = DEFAULT_DATA_DIR): FashionMnistBytes {
  if (loaded) return loaded;
  const cacheFile = path.join(dataDir, 'datasets', 'fashion-mnist.u8');
  loaded = readCache(cacheFile);
  if (!loaded) {
    loaded = parsePackage();
    writeCache(cacheFile, loaded);
  }
  return loaded;
}

function takeSplit(
  data: FashionMnistBytes,
  indices: Int32Array,
  side: number,
): { images: Float32Array; labels: Int32Array; count: number } {
  const count = indices.length;
  const images = new Float32Array(count * side * side);
  const labels = new Int32Array(count);
  indices.forEach((src, i) => {
    labels[i] = data.labels[src];
    if (side === SIDE) {
      const base = src * PIXELS;
      for (let p = 0; p < PIXELS; p++) images[i * PIXELS + p] = data.pixels[base + p] / 255;
    } else {
      resizeBilinearInto(
        data.pixels,
        src * PIXELS,
        SIDE,
        SIDE,
        1,
        side,
        side,
        images,
        i * side * side,
        1 / 255,
      );
    }
  });
  return { images, labels, count };
}

/**
 * Fashion-MNIST with a seeded, disjoint train/val split drawn from all 70k images (the package mixes the
 * original train and test sets per class). Only the requested subsets become float32.
 */
export function loadFashionMnist(
  spec: { readonly trainSize: number; readonly valSize: number },
  options: DatasetLoadOptions,
): Dataset {
  const data = loadFashionMnistBytes(options.dataDir);
  const { trainSize, valSize } = spec;
  for (const [field, v] of Object.entries({ trainSize, valSize })) {
    if (!Number.isInteger(v) || v < 1)
      throw new DatasetError(`fashion-mnist: ${field} must be a positive integer`);
  }
  if (trainSize + valSize > data.count) {
    throw new DatasetError(
      `fashion-mnist: trainSize + valSize = ${trainSize + valSize} exceeds the ${data.count} available images`,
    );
  }
  const side = options.resolution ?? SIDE;
  const order = shuffledIndices(data.count, createRandom(options.seed));
  const train: DatasetSplit = takeSplit(data, order.subarray(0, trainSize), side);
  const val: DatasetSplit = takeSplit(data, order.subarray(data.count - valSize), side);
  standardise(train.images, val.images, 1);
  return {
    name: 'fashion-mnist',
    height: side,
    width: side,
    channels: 1,
    classes: FASHION_MNIST_CLASSES.length,
    classNames: FASHION_MNIST_CLASSES,
    train,
    val,
  };
}
