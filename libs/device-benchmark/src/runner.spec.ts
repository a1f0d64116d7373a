/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
import {
  PROXY_28,
  createRng,
  sampleArchitecture,
  signatureKey,
  stemSignature,
  withGeometry,
} from '@edgenas/search-space';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { lowerArchitecture } from '@edgenas/search-space/graph';
import { buildOnnxModel } from '@edgenas/search-space/onnx';
import { initWeights } from '@edgenas/search-space/weights';
import { DEFAULT_BENCHMARK_OPTIONS, benchmarkArchitectures, benchmarkSignatures } from './runner';

// Real ONNX Runtime on a tiny geometry: numbers are real, not precise.
const TINY = withGeometry(PROXY_28, { input: { height: 8, width: 8, channels: 1 }, classes: 2 });
const QUICK = {
  ...DEFAULT_BENCHMARK_OPTIONS,
  warmupRuns: 1,
  rounds: 2,
  minRepeats: 2,
  maxRepeats: 5,
  minRoundMs: 0,
};

describe('benchmarkSignatures (real ONNX Runtime)', () => {
  it('measures every buildable signature in chunks, with the null-model overhead, and skips what cannot be built', async () => {
    const sigs = spaceSignatures(TINY).slice(0, 7);
    const invalid = { ...sigs[3], op: 'shuffle_k3' as const, cin: 9, cout: 9 };
    const skipped: string[] = [];
    const chunkSizes: number[] = [];
    const rows = await benchmarkSignatures(
      [...sigs, invalid],
      { ...QUICK, chunkSize: 3 },
      {
        onSkip: (key) => skipped.push(key),
        onChunk: (r) => void chunkSizes.push(r.length),
      },
    );
    expect(skipped).toEqual([signatureKey(invalid)]);
    expect(chunkSizes).toEqual([3, 3, 1]);
    expect(rows.map((r) => signatureKey(r.signature))).toEqual(sigs.map(signatureKey));
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    for (const r of rows) {
      expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.estimateMs).toBeGreaterThan(0);
      expect(r.p10Ms).toBeLessThanOrEqual(r.medianMs);
      expect(r.medianMs).toBeLessThanOrEqual(r.p90Ms);
      expect(r.overheadMs).toBeGreaterThan(0);
      expect(r).toMatchObject({
        rounds: 2,
        warmupRuns: 1,
        agentVersion: expect.stringMatching(/^edgenas-agent\//),
      });
      expect(typeof r.driftFlagged).toBe('boolean');
    }
  });

  it('refuses the cpu clock with more than one thread', async () => {
    await expect(
      benchmarkSignatures([stemSignature(TINY)], { ...QUICK, clock: 'cpu', threads: 2 }),
    ).rejects.toThrow(/cpu clock needs 1 thread/);
  });
});

describe('benchmarkArchitectures (real ONNX Runtime)', () => {
  it('measures whole networks end to end and keeps the verification id', async () => {
    const rng = createRng(3);
    const archs = [sampleArchitecture(TINY, rng), sampleArchitecture(TINY, rng)];
    const rows = await benchmarkArchitectures(
      archs.map((architecture, i) => ({
        architecture,
        config: TINY,
        ...(i === 1 ? { verificationId: 'v-1' } : {}),
      })),
      QUICK,
    );
    expect(rows).toHaveLength(2);
    expect(rows[0].space).toBe(TINY.name);
    expect(rows[0].verificationId).toBeUndefined();
    expect(rows[1].verificationId).toBe('v-1');
    for (const r of rows) expect(r.estimateMs).toBeGreaterThan(0);
  });

  it('measures a given model file as it is (not the network built here) and says which file it was', async () => {
    const architecture = sampleArchitecture(TINY, createRng(4));
    const graph = lowerArchitecture(architecture, TINY);
    const onnx = buildOnnxModel(graph, initWeights(graph, 7));
    const [row] = await benchmarkArchitectures(
      [{ architecture, config: TINY, verificationId: 'v-f', modelFile: { file: 'int8', onnx } }],
      QUICK,
    );
    expect(row).toMatchObject({ space: TINY.name, verificationId: 'v-f', modelFile: 'int8' });
    expect(row.estimateMs).toBeGreaterThan(0);
    // The bytes given are what ONNX Runtime loads: bytes that are no model fail.
    await expect(
      benchmarkArchitectures(
        [{ architecture, config: TINY, modelFile: { file: 'float', onnx: new Uint8Array([1, 2, 3]) } }],
        QUICK,
      ),
    ).rejects.toThrow();
  });
});
