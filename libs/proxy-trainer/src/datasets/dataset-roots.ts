/**
 * Where image-folder datasets may be read from: under configured dataset roots, checked after symbolic links
 * are resolved. Reasons never name a path: a refused request must not learn what lies outside the roots.
 * Light on purpose (fs and path only): the API imports it without the training code.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DatasetError } from './dataset';

export type DatasetPathProblem =
  | 'no-roots'
  | 'invalid'
  | 'outside-roots'
  | 'symlink-outside-roots'
  | 'is-root'
  | 'not-found'
  | 'not-a-folder';

/** A dataset path that is not a folder under the dataset roots; `reason` names no path. */
export class DatasetPathError extends DatasetError {
  override name = 'DatasetPathError';
  constructor(
    readonly problem: DatasetPathProblem,
    readonly reason: string,
  ) {
    super(`image folder: ${reason}`);
  }
}

export interface ResolvedDatasetFolder {
  /** Real path of the folder (symbolic links resolved). */
  readonly path: string;
  /** Real path of the root it lies under. */
  readonly root: string;
  /** The folder relative to that root, e.g. `flowers`. */
  readonly relative: string;
}

/** Whether `child` is `parent` or lies under it (both absolute). */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function realOrUndefined(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const ROOTS_HINT = 'the dataset roots (EDGENAS_DATASETS_DIR)';

/**
 * The real folder a dataset path names, or a `DatasetPathError`: relative paths resolve against the first root;
 * the path must lie under a root both as written and after symbolic links are resolved, and be a folder
 * other than the root itself. Roots that do not exist hold nothing.
 */
export function resolveDatasetFolder(requested: string, roots: readonly string[]): ResolvedDatasetFolder {
  if (roots.length === 0) throw new DatasetPathError('no-roots', 'no dataset roots are configured');
  if (requested.length === 0 || requested.includes('\0')) {
    throw new DatasetPathError('invalid', 'must be a non-empty path without NUL characters');
  }
  const lexicalRoots = roots.map((r) => path.resolve(r));
  const realRoots = lexicalRoots.map(realOrUndefined);
  const candidate = path.isAbsolute(requested)
    ? path.resolve(requested)
    : path.resolve(lexicalRoots[0], requested);
  const underAsWritten = [...lexicalRoots, ...realRoots].some(
    (r) => r !== undefined && isWithin(r, candidate),
  );
  if (!underAsWritten) {
    throw new DatasetPathError(
      'outside-roots',
      `must lie under ${ROOTS_HINT}; a relative path names a folder under the first root and may not climb ` +
        'out of it with ..',
    );
  }
  let real: string;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    throw new DatasetPathError('not-found', `no such folder under ${ROOTS_HINT}`);
  }
  const root = realRoots.find((r): r is string => r !== undefined && isWithin(r, real));
  if (root === undefined) {
    throw new DatasetPathError(
      'symlink-outside-roots',
      `leads outside ${ROOTS_HINT} through a symbolic link`,
    );
  }
  if (real === root) {
    throw new DatasetPathError(
      'is-root',
      'names a dataset root itself; name a dataset folder under it (one sub-folder per class)',
    );
  }
  if (!isDirectory(real)) {
    throw new DatasetPathError('not-a-folder', 'is not a folder (one sub-folder per class)');
  }
  return { path: real, root, relative: path.relative(root, real) };
}
