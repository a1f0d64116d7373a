/**
 * Files of named float32 arrays under a JSON header: trained weights a training process hands to its parent,
 * checkpoints of stand-alone training and cached teacher logits.
 *
 *   "EDGENAS-TENSORS-1\n", uint32 LE header length, the JSON header { meta, arrays: [{ name, length }],
 *   sha256 }, then each array's float32 values (little-endian, header order).
 *
 * Files are written to a temporary name, synced and renamed, so a reader never sees half a file; the payload's
 * SHA-256 in the header tells a damaged file (`TensorFileError`), which is never loaded. No TensorFlow.js here:
 * workers that only read these files stay light.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

const MAGIC = 'EDGENAS-TENSORS-1\n';

/** A tensor file that is missing, damaged or not what the reader expects. */
export class TensorFileError extends Error {
  override name = 'TensorFileError';
}

interface TensorFileHeader {
  readonly meta: Readonly<Record<string, unknown>>;
  readonly arrays: readonly { readonly name: string; readonly length: number }[];
  readonly sha256: string;
}

export interface TensorFile {
  readonly meta: Readonly<Record<string, unknown>>;
  readonly arrays: ReadonlyMap<string, Float32Array>;
}

/** Writes `chunks` to `file` through a synced temporary file and a rename (readers see old or new, never half). */
export function writeAtomically(file: string, chunks: readonly Uint8Array[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const c of chunks) fs.writeSync(fd, c);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Writes the arrays (in the given order) and `meta`; returns the file's size. */
export function writeTensorFile(
  file: string,
  meta: Readonly<Record<string, unknown>>,
  arrays: Iterable<readonly [string, Float32Array]>,
): { bytes: number } {
  const list = [...arrays];
  const hash = createHash('sha256');
  for (const [, a] of list) hash.update(bytesOf(a));
  const header: TensorFileHeader = {
    meta,
    arrays: list.map(([name, a]) => ({ name, length: a.length })),
    sha256: hash.digest('hex'),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(headerBytes.length, 0);
  const chunks = [Buffer.from(MAGIC, 'utf8'), length, headerBytes, ...list.map(([, a]) => bytesOf(a))];
  writeAtomically(file, chunks);
  return { bytes: chunks.reduce((n, c) => n + c.byteLength, 0) };
}

/** Reads and verifies a tensor file; throws `TensorFileError` naming what is wrong. */
export function readTensorFile(file: string): TensorFile {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    throw new TensorFileError(`${path.basename(file)} cannot be read (${(err as Error).message})`);
  }
  if (data.length < MAGIC.length + 4 || data.subarray(0, MAGIC.length).toString('utf8') !== MAGIC) {
    throw new TensorFileError(`${path.basename(file)} is not a tensor file`);
  }
  const headerLength = data.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  let header: TensorFileHeader;
  try {
    header = JSON.parse(data.subarray(start, start + headerLength).toString('utf8')) as TensorFileHeader;
  } catch {
    throw new TensorFileError(`${path.basename(file)} has a damaged header`);
  }
  const payload = data.subarray(start + headerLength);
  const expected = header.arrays.reduce((n, a) => n + a.length * 4, 0);
  if (payload.length !== expected) {
    throw new TensorFileError(
      `${path.basename(file)} holds ${payload.length} payload bytes, not ${expected}`,
    );
  }
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) {
    throw new TensorFileError(`${path.basename(file)} is corrupt: its SHA-256 does not match`);
  }
  // Copied into an aligned buffer so the arrays can be Float32Array views.
  const aligned = new Uint8Array(payload.length);
  aligned.set(payload);
  const floats = new Float32Array(aligned.buffer);
  const arrays = new Map<string, Float32Array>();
  let offset = 0;
  for (const a of header.arrays) {
    arrays.set(a.name, floats.subarray(offset, offset + a.length));
    offset += a.length;
  }
  return { meta: header.meta, arrays };
}

/** Network weights (canonical layouts, by parameter name) to a tensor file; `meta` says what they are. */
export function writeWeightsFile(
  file: string,
  weights: Readonly<Record<string, Float32Array>>,
  meta: Readonly<Record<string, unknown>> = {},
): { bytes: number } {
  return writeTensorFile(file, { ...meta, kind: 'weights' }, Object.entries(weights));
}

/** The weights written by `writeWeightsFile`. */
export function readWeightsFile(file: string): Record<string, Float32Array> {
  const { meta, arrays } = readTensorFile(file);
  if (meta.kind !== 'weights') throw new TensorFileError(`${path.basename(file)} holds no network weights`);
  return Object.fromEntries(arrays);
}

/** A teacher's logits on a training split: `count` rows of `classes` values, in the split's image order. */
export interface TeacherLogits {
  readonly logits: Float32Array;
  readonly count: number;
  readonly classes: number;
}

export function writeTeacherLogits(file: string, logits: Float32Array, classes: number): { bytes: number } {
  if (!Number.isInteger(classes) || classes < 1 || logits.length % classes !== 0) {
    throw new TensorFileError(`${logits.length} logits are not rows of ${classes} classes`);
  }
  return writeTensorFile(file, { kind: 'teacher-logits', count: logits.length / classes, classes }, [
    ['logits', logits],
  ]);
}

export function readTeacherLogits(file: string): TeacherLogits {
  const { meta, arrays } = readTensorFile(file);
  const logits = arrays.get('logits');
  if (meta.kind !== 'teacher-logits' || !logits) {
    throw new TensorFileError(`${path.basename(file)} holds no teacher logits`);
  }
  return { logits, count: Number(meta.count), classes: Number(meta.classes) };
}
