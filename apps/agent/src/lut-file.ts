import * as fs from 'node:fs';
import { BlockMeasurement, DeviceProfile } from '@edgenas/latency-predictor';
import { parseSignatureKey, signatureKey } from '@edgenas/search-space';

export const LUT_FILE_FORMAT = 'edgenas-lut/1';

/** What `profile` writes and `upload` reads: raw block measurements of one device profile for one space. */
export interface LutFile {
  readonly format: typeof LUT_FILE_FORMAT;
  readonly space: string;
  readonly profile: DeviceProfile;
  readonly createdAt: string;
  readonly blocks: readonly BlockMeasurement[];
}

export function writeLutFile(path: string, lut: LutFile): void {
  fs.writeFileSync(path, JSON.stringify(lut, null, 1) + '\n');
}

/** Reads and checks a LUT file; throws a message naming the file and what is wrong with it. */
export function readLutFile(path: string): LutFile {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not JSON: ${(err as Error).message}`);
  }
  const bad = (why: string) => new Error(`${path} is not an EdgeNAS LUT file: ${why}`);
  if (!data || typeof data !== 'object') throw bad('expected an object');
  const f = data as Partial<LutFile>;
  if (f.format !== LUT_FILE_FORMAT) throw bad(`"format" must be "${LUT_FILE_FORMAT}"`);
  if (typeof f.space !== 'string') throw bad('"space" missing');
  const p = f.profile;
  if (
    !p ||
    typeof p.name !== 'string' ||
    !p.hardware ||
    !p.runtime ||
    typeof p.runtime.threads !== 'number'
  ) {
    throw bad('"profile" must be a device profile (name, hardware, runtime)');
  }
  if (!Array.isArray(f.blocks)) throw bad('"blocks" must be a list of measurements');
  f.blocks.forEach((b: BlockMeasurement, i: number) => {
    const where = `blocks[${i}]`;
    if (!b || typeof b.id !== 'string' || !/^[0-9a-f-]{36}$/i.test(b.id))
      throw bad(`${where}.id must be a UUID`);
    if (!b.signature) throw bad(`${where}.signature missing`);
    try {
      parseSignatureKey(signatureKey(b.signature));
    } catch (err) {
      throw bad(`${where}.signature: ${(err as Error).message}`);
    }
    for (const field of ['estimateMs', 'medianMs', 'p10Ms', 'p90Ms', 'overheadMs'] as const) {
      const v = b[field];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw bad(`${where}.${field} must be a finite number ≥ 0`);
    }
  });
  return f as LutFile;
}
