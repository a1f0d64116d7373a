import { Dirent, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { CliError, EdgenasApi } from './api';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

export interface LocalImage {
  readonly className: string;
  readonly file: string;
  readonly path: string;
  readonly contentType: string;
}

/** `<folder>/<class>/<image>` files (PNG/JPEG), classes and files sorted; hidden entries left out. */
export function localImageFolder(folder: string): LocalImage[] {
  let classes: Dirent[];
  try {
    if (!statSync(folder).isDirectory()) throw new Error('not a folder');
    classes = readdirSync(folder, { withFileTypes: true });
  } catch {
    throw new CliError(`${folder} is not a readable folder (one sub-folder per class)`, 2);
  }
  const images: LocalImage[] = [];
  const classDirs = classes.filter((c) => c.isDirectory() && !c.name.startsWith('.')).map((c) => c.name);
  for (const className of classDirs.sort()) {
    const files = readdirSync(join(folder, className), { withFileTypes: true })
      .filter((f) => f.isFile() && !f.name.startsWith('.') && CONTENT_TYPES[extname(f.name).toLowerCase()])
      .map((f) => f.name)
      .sort();
    for (const file of files) {
      images.push({
        className,
        file,
        path: join(folder, className, file),
        contentType: CONTENT_TYPES[extname(file).toLowerCase()],
      });
    }
  }
  const classCount = new Set(images.map((i) => i.className)).size;
  if (classCount < 2) {
    throw new CliError(
      `${folder} needs at least 2 class sub-folders holding .png/.jpg/.jpeg images, found ${classCount}`,
      2,
    );
  }
  return images;
}

export interface UploadSummary {
  readonly images: number;
  readonly classes: number;
  readonly created: number;
  readonly unchanged: number;
}

/**
 * Uploads every image of a local image folder into the API's dataset `name`, one request each. Safe to re-run:
 * images already there with the same bytes are counted unchanged; a different file under a stored name stops
 * the upload with the API's reason.
 */
export async function uploadImageFolder(
  client: EdgenasApi,
  name: string,
  images: readonly LocalImage[],
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<UploadSummary> {
  let created = 0;
  for (const [i, image] of images.entries()) {
    const q = new URLSearchParams({ class: image.className, file: image.file });
    const answer = await client.postBytes<{ created: boolean }>(
      `/v1/datasets/${encodeURIComponent(name)}/images?${q}`,
      readFileSync(image.path),
      image.contentType,
    );
    if (answer.created) created++;
    onProgress(i + 1, images.length);
  }
  return {
    images: images.length,
    classes: new Set(images.map((i) => i.className)).size,
    created,
    unchanged: images.length - created,
  };
}
