import { randomUUID } from 'node:crypto';
import { Dirent, promises as fs } from 'node:fs';
import { join } from 'node:path';
import {
  DatasetPathError,
  isWithin,
  resolveDatasetFolder,
} from '@edgenas/proxy-trainer/datasets/dataset-roots';
import { ApiError, badRequest } from '../common/api-error';

/** A dataset or class folder name: one plain path segment (no separators, no leading dot). */
export const FOLDER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const FOLDER_NAME_RULE = '1–100 characters of letters, digits, . _ -, starting with a letter or digit';
/** An image file name: one plain path segment ending in .png, .jpg or .jpeg. */
export const IMAGE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,195}\.(png|jpe?g)$/i;
export const IMAGE_FILE_NAME_RULE =
  'letters, digits, . _ - (starting with a letter or digit), ending in .png, .jpg or .jpeg';
export const MAX_IMAGE_BYTES = 16 * 1024 * 1024;

/** A job's image-folder path: 400 naming `field` and the reason (never a path) when outside the roots. */
export function checkDatasetPath(requested: string, roots: readonly string[], field: string): void {
  try {
    resolveDatasetFolder(requested, roots);
  } catch (err) {
    if (err instanceof DatasetPathError) throw badRequest(field, err.reason);
    throw err;
  }
}

/** What the first bytes say the file is. */
function imageKind(bytes: Buffer): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))) {
    return 'png';
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const real: string[] = [];
  for (const r of roots) {
    try {
      real.push(await fs.realpath(r));
    } catch {
      // a root that does not exist holds nothing
    }
  }
  return real;
}

/**
 * `parent/name` as a folder under the roots, created when missing; 400 naming `field` when it leads outside
 * them through a symbolic link, 409 when something else of that name is in the way.
 */
async function folderUnder(
  parent: string,
  name: string,
  roots: readonly string[],
  field: string,
): Promise<string> {
  const folder = join(parent, name);
  try {
    await fs.mkdir(folder);
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
  }
  let real: string;
  try {
    real = await fs.realpath(folder);
  } catch {
    // e.g. a dangling symbolic link of that name
    throw badRequest(field, `"${name}" cannot be used as a folder`);
  }
  if (!roots.some((r) => isWithin(r, real))) {
    throw badRequest(field, 'leads outside the dataset roots through a symbolic link');
  }
  if (!(await fs.stat(real)).isDirectory()) {
    const reason = `"${name}" exists and is not a folder`;
    throw new ApiError(409, `${field}: ${reason}`, [{ field, reason }]);
  }
  return real;
}

export interface StoredImage {
  readonly dataset: string;
  readonly class: string;
  readonly file: string;
  readonly bytes: number;
  /** False when the same bytes were already stored under that name (a retried upload). */
  readonly created: boolean;
  /** What a job names as `proxy.dataset.path` (relative to the first dataset root). */
  readonly path: string;
}

/**
 * Stores one image as `<first root>/<dataset>/<class>/<file>`. The same bytes again are a no-op; other bytes
 * under a stored name are a 409 (names are never overwritten). Written to a temporary name first and linked
 * into place, so a training that lists the folder never reads half a file.
 */
export async function addImage(
  roots: readonly string[],
  dataset: string,
  className: string,
  file: string,
  bytes: Buffer,
): Promise<StoredImage> {
  const kind = imageKind(bytes);
  if (kind === undefined) throw badRequest('body', 'is not a PNG or JPEG image');
  const wanted = /\.png$/i.test(file) ? 'png' : 'jpeg';
  if (kind !== wanted)
    throw badRequest('file', `names a ${wanted.toUpperCase()} file but the body is ${kind.toUpperCase()}`);

  await fs.mkdir(roots[0], { recursive: true });
  const allowed = await realRoots(roots);
  const root = await fs.realpath(roots[0]);
  const datasetDir = await folderUnder(root, dataset, allowed, 'name');
  const classDir = await folderUnder(datasetDir, className, allowed, 'class');
  const target = join(classDir, file);
  const stored = { dataset, class: className, file, bytes: bytes.length, path: dataset };

  // dot-named and without an image extension: never listed as part of the dataset
  const temp = join(classDir, `.upload-${randomUUID()}`);
  await fs.writeFile(temp, bytes, { flag: 'wx' });
  try {
    await fs.link(temp, target);
    return { ...stored, created: true };
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
  } finally {
    await fs.rm(temp, { force: true });
  }
  const existing = await fs.lstat(target);
  if (existing.isFile() && existing.size === bytes.length && (await fs.readFile(target)).equals(bytes)) {
    return { ...stored, created: false };
  }
  const reason = `class "${className}" of dataset "${dataset}" already has a different "${file}"; use another file name`;
  throw new ApiError(409, `file: ${reason}`, [{ field: 'file', reason }]);
}

export interface DatasetSummary {
  readonly name: string;
  /** What a job names as `proxy.dataset.path`. */
  readonly path: string;
  readonly images: number;
  readonly classes: readonly { readonly name: string; readonly images: number }[];
}

const IMAGE_EXTENSION = /\.(png|jpe?g)$/i;

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** The datasets in the first root (upload target): class folders and their image counts. */
export async function listDatasets(roots: readonly string[]): Promise<DatasetSummary[]> {
  const out: DatasetSummary[] = [];
  const datasets = (await entries(roots[0])).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  for (const d of datasets.sort((a, b) => a.name.localeCompare(b.name))) {
    const classes: { name: string; images: number }[] = [];
    const classDirs = (await entries(join(roots[0], d.name))).filter(
      (e) => e.isDirectory() && !e.name.startsWith('.'),
    );
    for (const c of classDirs.sort((a, b) => a.name.localeCompare(b.name))) {
      const images = (await entries(join(roots[0], d.name, c.name))).filter(
        (e) => !e.isDirectory() && IMAGE_EXTENSION.test(e.name),
      ).length;
      classes.push({ name: c.name, images });
    }
    out.push({
      name: d.name,
      path: d.name,
      images: classes.reduce((n, c) => n + c.images, 0),
      classes,
    });
  }
  return out;
}
