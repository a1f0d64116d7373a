import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROXY_28, headSignature } from '@edgenas/search-space';
import { LUT_FILE_FORMAT, LutFile, readLutFile, writeLutFile } from './lut-file';

const lut: LutFile = {
  format: LUT_FILE_FORMAT,
  space: 'proxy-28',
  createdAt: '2026-01-01T00:00:00.000Z',
  profile: {
    name: 'dev',
    hardware: { cpuModel: 'cpu', cores: 2, memoryBytes: 1, os: 'linux', arch: 'x64' },
    runtime: { engine: 'onnxruntime-node', engineVersion: '1.30.0', executionProvider: 'cpu', threads: 1 },
  },
  blocks: [
    {
      id: randomUUID(),
      signature: headSignature(PROXY_28),
      estimateMs: 0.2,
      medianMs: 0.21,
      p10Ms: 0.2,
      p90Ms: 0.25,
      rounds: 3,
      repeatsPerRound: 5,
      warmupRuns: 2,
      overheadMs: 0.01,
      agentVersion: 'test',
      measuredAt: '2026-01-01T00:00:00.000Z',
      driftFlagged: false,
    },
  ],
};

describe('LUT files', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'edgenas-lut-file-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips', () => {
    writeLutFile(join(dir, 'ok.json'), lut);
    expect(readLutFile(join(dir, 'ok.json'))).toEqual(lut);
  });

  it('names the file and the field that is wrong', () => {
    const bad = (name: string, content: string) => {
      writeFileSync(join(dir, name), content);
      return () => readLutFile(join(dir, name));
    };
    expect(bad('text.json', 'not json')).toThrow(/text\.json is not JSON/);
    expect(bad('format.json', JSON.stringify({ ...lut, format: 'x' }))).toThrow(
      /"format" must be "edgenas-lut\/1"/,
    );
    const negative = { ...lut, blocks: [{ ...lut.blocks[0], estimateMs: -1 }] };
    expect(bad('neg.json', JSON.stringify(negative))).toThrow(
      /blocks\[0\]\.estimateMs must be a finite number/,
    );
    const badId = { ...lut, blocks: [{ ...lut.blocks[0], id: 'x' }] };
    expect(bad('id.json', JSON.stringify(badId))).toThrow(/blocks\[0\]\.id must be a UUID/);
    expect(() => readLutFile(join(dir, 'missing.json'))).toThrow(/cannot read .*missing\.json: ENOENT/);
  });
});
