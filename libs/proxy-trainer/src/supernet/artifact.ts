/**
 * Supernet files: checkpoints during training and the finished artifact share one format.
 *
 *   "EDGENAS-SUPERNET-1\n", uint32 LE header length, the JSON header, then per entry (header order) the
 *   weight, and for trainable entries Adam's two slots, as float32 LE.
 *
 * Files are written to a temporary name, synced and renamed, so a reader never sees half a file; a sidecar
 * `<file>.sha256` holds the digest of the whole file and is written last. `readSupernetFile` checks both: a
 * missing or mismatching digest is a corrupt file (`SupernetFileError`), never loaded.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BlockType, MacroConfig } from '@edgenas/search-space';
import { writeAtomically } from '../tensor-file';
import { WeightBank } from './weight-bank';

const MAGIC = 'EDGENAS-SUPERNET-1\n';

export interface SupernetFileHeader {
  /** Proxy geometry the bank is laid on (a macro config name, possibly with a geometry suffix). */
  readonly config: string;
  /** The blocks the bank holds (absent: every block of the space). */
  readonly blockTypes?: readonly BlockType[];
  /** Optimisation steps done. */
  readonly step: number;
  /** Steps the training was asked for (a checkpoint has step < totalSteps). */
  readonly totalSteps: number;
  /** What the file was trained from: content key and request, for humans and checks. */
  readonly meta: Readonly<Record<string, unknown>>;
  readonly entries: readonly { readonly name: string; readonly length: number; readonly slots: boolean }[];
}

export interface SupernetFile {
  readonly header: SupernetFileHeader;
  readonly bank: WeightBank;
  readonly sha256: string;
  readonly bytes: number;
}

/** A supernet file that is missing, incomplete, corrupt or of another supernet. */
export class SupernetFileError extends Error {
  override name = 'SupernetFileError';
}

export function digestPath(file: string): string {
  return `${file}.sha256`;
}

/**
 * Version of the supernet trainer and file format: part of every content key, so a change to how supernets
 * are trained never reuses one trained the old way.
 */
export const SUPERNET_TRAINER_VERSION = 1;

/** Content key of a supernet: everything its weights depend on (canonical JSON, SHA-256, 32 hex digits). */
export function supernetKey(content: Readonly<Record<string, unknown>>): string {
  const canonical = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
            .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
        )
      : Array.isArray(v)
        ? v.map(canonical)
        : v;
  const text = JSON.stringify(canonical({ ...content, trainerVersion: SUPERNET_TRAINER_VERSION }));
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/**
 * Whether `file` is a finished supernet file: present, with a digest that matches its bytes. Reads the file but
 * does not parse it (no TensorFlow.js needed). `corrupt` names a file whose digest does not match.
 */
export function checkSupernetFile(
  file: string,
):
  | { readonly state: 'complete'; readonly sha256: string; readonly bytes: number }
  | { readonly state: 'missing' | 'corrupt' } {
  let expected: string;
  let data: Buffer;
  try {
    expected = fs.readFileSync(digestPath(file), 'utf8').trim();
    data = fs.readFileSync(file);
  } catch {
    return { state: 'missing' };
  }
  const sha256 = createHash('sha256').update(data).digest('hex');
  return sha256 === expected ? { state: 'complete', sha256, bytes: data.length } : { state: 'corrupt' };
}

/** Writes the bank (weights and optimizer slots); returns the file's SHA-256 and size. */
export function writeSupernetFile(
  file: string,
  bank: WeightBank,
  info: Omit<SupernetFileHeader, 'entries' | 'config' | 'blockTypes'>,
): { sha256: string; bytes: number } {
  const entries = [...bank.entries.values()];
  const header: SupernetFileHeader = {
    ...info,
    config: bank.config.name,
    ...(bank.blockTypes ? { blockTypes: bank.blockTypes } : {}),
    entries: entries.map((e) => ({ name: e.spec.name, length: e.value.length, slots: !!(e.m && e.s) })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(headerBytes.length, 0);
  const chunks: Uint8Array[] = [Buffer.from(MAGIC, 'utf8'), length, headerBytes];
  for (const e of entries) {
    for (const data of e.m && e.s ? [e.value, e.m, e.s] : [e.value]) {
      chunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
  const hash = createHash('sha256');
  let bytes = 0;
  for (const c of chunks) {
    hash.update(c);
    bytes += c.byteLength;
  }
  const sha256 = hash.digest('hex');
  // The digest goes last: a file without one was never finished.
  fs.rmSync(digestPath(file), { force: true });
  writeAtomically(file, chunks);
  writeAtomically(digestPath(file), [Buffer.from(`${sha256}\n`, 'utf8')]);
  return { sha256, bytes };
}

/**
 * Writes a supernet file received as bytes (from the shared store) where `readSupernetFile` finds it, after
 * checking them against `sha256`: a mismatch throws `SupernetFileError` and writes nothing.
 */
export function writeSupernetBytes(file: string, bytes: Uint8Array, sha256: string): void {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw new SupernetFileError(
      `supernet file ${path.basename(file)} is corrupt: its SHA-256 does not match`,
    );
  }
  fs.rmSync(digestPath(file), { force: true });
  writeAtomically(file, [bytes]);
  writeAtomically(digestPath(file), [Buffer.from(`${sha256}\n`, 'utf8')]);
}

/** The header of a finished (digest-checked) supernet file, or undefined when it is missing or corrupt. */
export function readSupernetHeader(file: string): SupernetFileHeader | undefined {
  if (checkSupernetFile(file).state !== 'complete') return undefined;
  const data = fs.readFileSync(file);
  if (data.subarray(0, MAGIC.length).toString('utf8') !== MAGIC) return undefined;
  const length = data.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  return JSON.parse(data.subarray(start, start + length).toString('utf8')) as SupernetFileHeader;
}

/** Reads and verifies a supernet file laid on `config`. Throws `SupernetFileError` naming what is wrong. */
export function readSupernetFile(file: string, config: MacroConfig): SupernetFile {
  let expected: string;
  let data: Buffer;
  try {
    expected = fs.readFileSync(digestPath(file), 'utf8').trim();
    data = fs.readFileSync(file);
  } catch (err) {
    throw new SupernetFileError(
      `supernet file ${path.basename(file)} is missing or incomplete (${(err as Error).message})`,
    );
  }
  const sha256 = createHash('sha256').update(data).digest('hex');
  if (sha256 !== expected) {
    throw new SupernetFileError(
      `supernet file ${path.basename(file)} is corrupt: its SHA-256 does not match`,
    );
  }
  if (data.subarray(0, MAGIC.length).toString('utf8') !== MAGIC) {
    throw new SupernetFileError(`${path.basename(file)} is not a supernet file`);
  }
  const headerLength = data.readUInt32LE(MAGIC.length);
  const headerStart = MAGIC.length + 4;
  const header = JSON.parse(
    data.subarray(headerStart, headerStart + headerLength).toString('utf8'),
  ) as SupernetFileHeader;
  if (header.config !== config.name) {
    throw new SupernetFileError(
      `supernet file ${path.basename(file)} is for ${header.config}, not ${config.name}`,
    );
  }
  // Copy the payload into an aligned buffer so entries can be Float32Array views.
  const payload = new Uint8Array(data.length - headerStart - headerLength);
  payload.set(data.subarray(headerStart + headerLength));
  const floats = new Float32Array(payload.buffer, 0, Math.floor(payload.byteLength / 4));
  let offset = 0;
  const take = (n: number) => {
    if (offset + n > floats.length)
      throw new SupernetFileError(`supernet file ${path.basename(file)} is truncated`);
    const view = floats.subarray(offset, offset + n);
    offset += n;
    return view;
  };
  const entries = header.entries.map((h) => {
    const value = take(h.length);
    return h.slots ? { name: h.name, value, m: take(h.length), s: take(h.length) } : { name: h.name, value };
  });
  let bank: WeightBank;
  try {
    bank = WeightBank.fromEntries(config, entries, header.blockTypes);
  } catch (err) {
    throw new SupernetFileError((err as Error).message);
  }
  return { header, bank, sha256, bytes: data.length };
}
