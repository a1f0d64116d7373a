import * as fs from 'fs';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { createRandom, shuffledIndices } from '../random';
import { Dataset, DatasetError, DatasetLoadOptions, resizeBilinearInto, standardise } from './dataset';
import { isWithin, resolveDatasetFolder } from './dataset-roots';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
const DEFAULT_RESOLUTION = 32;

export interface ImageFolderSpec {
  readonly path: string;
  readonly valFraction: number;
  readonly color?: 'grayscale' | 'rgb';
  readonly maxImbalance?: number;
}

interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /** RGBA bytes. */
  readonly rgba: Uint8Array;
}

function decodeImage(file: string): DecodedImage {
  const ext = path.extname(file).toLowerCase();
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new DatasetError(`image folder: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    if (ext === '.png') {
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, rgba: png.data };
    }
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (err) {
    throw new DatasetError(
      `image folder: cannot decode ${file} as ${ext.slice(1).toUpperCase()}: ${(err as Error).message}`,
    );
  }
}

/**
 * The image files of a class folder. With `within` (real paths of the dataset roots), a symbolic link counts only
 * when it leads to a file under them; one leading elsewhere is an error naming the link, never its target.
 */
function classImages(dir: string, className: string, within: readonly string[] | undefined): string[] {
  const named = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()));
  if (within === undefined) return named.map((e) => e.name).sort();
  const images: string[] = [];
  for (const e of named) {
    if (e.isFile()) {
      images.push(e.name);
    } else if (e.isSymbolicLink()) {
      let target: string | undefined;
      try {
        target = fs.realpathSync(path.join(dir, e.name));
      } catch {
        target = undefined;
      }
      if (target === undefined || !within.some((r) => isWithin(r, target))) {
        throw new DatasetError(
          `image folder: ${className}/${e.name} is a symbolic link that does not lead to a file under the dataset roots`,
        );
      }
      if (fs.statSync(target).isFile()) images.push(e.name);
    }
  }
  return images.sort();
}

/**
 * Lists `<root>/<class>/<image>` files; throws naming the folder/file and the reason when unusable. `within`:
 * real paths of the dataset roots that image files reached through symbolic links must stay under.
 */
export function listImageFolder(
  root: string,
  maxImbalance = 10,
  within?: readonly string[],
): { classNames: string[]; files: { file: string; label: number }[] } {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new DatasetError(`image folder: ${root} is not a directory`);
  }
  const classNames = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (classNames.length < 2) {
    throw new DatasetError(
      `image folder: ${root} needs one sub-folder per class (at least 2), found ${classNames.length}`,
    );
  }
  const files: { file: string; label: number }[] = [];
  const counts = classNames.map((name, label) => {
    const dir = path.join(root, name);
    const images = classImages(dir, name, within);
    if (images.length === 0) {
      throw new DatasetError(`image folder: class folder ${dir} holds no .png/.jpg/.jpeg images`);
    }
    for (const f of images) files.push({ file: path.join(dir, f), label });
    return images.length;
  });
  const most = Math.max(...counts);
  const least = Math.min(...counts);
  if (most > maxImbalance * least) {
    const big = classNames[counts.indexOf(most)];
    const small = classNames[counts.indexOf(least)];
    throw new DatasetError(
      `image folder: unbalanced classes: "${big}" has ${most} images, "${small}" only ${least} ` +
        `(more than ${maxImbalance}x apart)`,
    );
  }
  return { classNames, files };
}

/**
 * An image-folder dataset (one sub-folder per class, PNG or JPEG), decoded and resized to the proxy resolution,
 * grayscale (luma) or RGB, with a seeded stratified train/val split.
 */
export function loadImageFolder(spec: ImageFolderSpec, options: DatasetLoadOptions): Dataset {
  if (!(spec.valFraction > 0 && spec.valFraction < 1)) {
    throw new DatasetError(`image folder: valFraction must be in (0, 1), got ${spec.valFraction}`);
  }
  // With dataset roots, the folder must lie under them (symbolic links resolved) before anything is read.
  const roots = options.datasetRoots;
  const folder = roots ? resolveDatasetFolder(spec.path, roots) : undefined;
  const within = roots?.flatMap((r) => {
    try {
      return [fs.realpathSync(r)];
    } catch {
      return [];
    }
  });
  const { classNames, files } = listImageFolder(folder?.path ?? spec.path, spec.maxImbalance, within);
  const channels = spec.color === 'rgb' ? 3 : 1;
  const side = options.resolution ?? DEFAULT_RESOLUTION;
  const random = createRandom(options.seed);
  // Stratified split: per class, a seeded shuffle, the first ⌈valFraction·n⌉ (at least 1) go to validation.
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  classNames.forEach((name, label) => {
    const mine = files.flatMap((f, i) => (f.label === label ? [i] : []));
    if (mine.length < 2) {
      throw new DatasetError(
        `image folder: class "${name}" needs at least 2 images (train and val), has ${mine.length}`,
      );
    }
    const order = shuffledIndices(mine.length, random);
    const nVal = Math.min(mine.length - 1, Math.max(1, Math.round(spec.valFraction * mine.length)));
    order.forEach((o, i) => (i < nVal ? valIdx : trainIdx).push(mine[o]));
  });
  const pixelsPerImage = side * side * channels;
  const decodeSplit = (indices: number[]) => {
    const images = new Float32Array(indices.length * pixelsPerImage);
    const labels = new Int32Array(indices.length);
    const order = shuffledIndices(indices.length, random);
    order.forEach((o, i) => {
      const { file, label } = files[indices[o]];
      const img = decodeImage(file);
      if (img.width < 1 || img.height < 1)
        throw new DatasetError(`image folder: ${file} is empty (0 pixels)`);
      const src = new Float32Array(img.width * img.height * channels);
      for (let p = 0; p < img.width * img.height; p++) {
        const [r, g, b] = [img.rgba[4 * p], img.rgba[4 * p + 1], img.rgba[4 * p + 2]];
        if (channels === 1) src[p] = 0.299 * r + 0.587 * g + 0.114 * b;
        else src.set([r, g, b], 3 * p);
      }
      resizeBilinearInto(
        src,
        0,
        img.height,
        img.width,
        channels,
        side,
        side,
        images,
        i * pixelsPerImage,
        1 / 255,
      );
      labels[i] = label;
    });
    return { images, labels, count: indices.length };
  };
  const train = decodeSplit(trainIdx);
  const val = decodeSplit(valIdx);
  standardise(train.images, val.images, channels);
  return {
    name: `image-folder:${path.basename(path.resolve(spec.path))}`,
    height: side,
    width: side,
    channels,
    classes: classNames.length,
    classNames,
    train,
    val,
  };
}
