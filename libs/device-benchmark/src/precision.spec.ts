/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 *
 * The precision decides what is timed: an int8 profile times static QDQ models (real ONNX Runtime, real quantizer).
 */
import { PROXY_28, createRng, sampleArchitecture, withGeometry } from '@edgenas/search-space';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { decodeOnnxModel } from '@edgenas/search-space/onnx';
import { ortOptimisedOps } from '@edgenas/quantizer';
import { architectureModel, signatureModel } from './models';
import * as ortSession from './ort-session';
import { modelAtPrecision } from './precision';
import { DEFAULT_BENCHMARK_OPTIONS, benchmarkArchitectures, benchmarkSignatures } from './runner';

const TINY = withGeometry(PROXY_28, { input: { height: 8, width: 8, channels: 1 }, classes: 2 });
const QUICK = {
  ...DEFAULT_BENCHMARK_OPTIONS,
  warmupRuns: 1,
  rounds: 2,
  minRepeats: 2,
  maxRepeats: 5,
  minRoundMs: 0,
};

function opTypes(model: Uint8Array): Set<string> {
  return new Set(decodeOnnxModel(model).graph.node.map((n) => n.opType));
}

describe('modelAtPrecision', () => {
  it('leaves an fp32 model as built', async () => {
    const m = signatureModel(spaceSignatures(TINY)[1]);
    expect(await modelAtPrecision(m, 'fp32')).toBe(m);
  });

  it('quantizes every block signature of a space to a QDQ INT8 model that ONNX Runtime runs', async () => {
    for (const sig of spaceSignatures(TINY)) {
      const float = signatureModel(sig);
      const int8 = await modelAtPrecision(float, 'int8');
      const ops = opTypes(int8.model);
      expect(ops.has('QuantizeLinear')).toBe(true);
      expect(ops.has('DequantizeLinear')).toBe(true);
      expect(int8.inputShape).toEqual(float.inputShape);
      expect(int8.ioKey).toBe(float.ioKey);
      const session = await ortSession.createBoundSession(int8.model, int8.inputShape, { threads: 1 });
      try {
        await session.run();
      } finally {
        await session.release();
      }
    }
  });

  it('quantizes a whole network the same way: every conv becomes QLinearConv after ORT fusions', async () => {
    const arch = sampleArchitecture(TINY, createRng(5));
    const int8 = await modelAtPrecision(architectureModel('a', arch, TINY), 'int8');
    const fused = await ortOptimisedOps(int8.model);
    expect(fused.QLinearConv).toBeGreaterThan(0);
    expect(fused.Conv ?? 0).toBe(0);
  });
});

describe('benchmark runner at a precision (real ONNX Runtime)', () => {
  afterEach(() => jest.restoreAllMocks());

  /** The models the runner opened sessions for, i.e. timed. */
  function recordTimedModels(): Uint8Array[] {
    const timed: Uint8Array[] = [];
    const real = ortSession.createBoundSession;
    jest.spyOn(ortSession, 'createBoundSession').mockImplementation((model, shape, opts) => {
      timed.push(model);
      return real(model, shape, opts);
    });
    return timed;
  }

  it('times quantized blocks on an int8 profile; the null models of the input/output binding stay float', async () => {
    const sigs = spaceSignatures(TINY).slice(0, 4);
    const timed = recordTimedModels();
    const rows = await benchmarkSignatures(sigs, { ...QUICK, precision: 'int8' });
    expect(rows).toHaveLength(4);
    const quantized = timed.filter((m) => opTypes(m).has('QuantizeLinear'));
    // warm-up reference + (reference + 4 blocks) in the chunk, all quantized; the rest are null models
    expect(quantized).toHaveLength(6);
    expect(timed.length).toBeGreaterThan(quantized.length);
    for (const r of rows) {
      expect(r.estimateMs).toBeGreaterThan(0);
      expect(r.agentVersion).toMatch(/\+int8$/);
    }
  });

  it('times float blocks on an fp32 profile (the default)', async () => {
    const timed = recordTimedModels();
    const rows = await benchmarkSignatures(spaceSignatures(TINY).slice(0, 2), QUICK);
    expect(timed.length).toBeGreaterThan(0);
    expect(timed.filter((m) => opTypes(m).has('QuantizeLinear'))).toEqual([]);
    expect(rows.map((r) => r.agentVersion)).toEqual(rows.map(() => 'edgenas-agent/0.1.0'));
  });

  it('times whole networks quantized on an int8 profile, but a given model file as it is', async () => {
    const rng = createRng(6);
    const [a, b] = [sampleArchitecture(TINY, rng), sampleArchitecture(TINY, rng)];
    const fileModel = architectureModel('file', b, TINY).model;
    const timed = recordTimedModels();
    const rows = await benchmarkArchitectures(
      [
        { architecture: a, config: TINY },
        { architecture: b, config: TINY, verificationId: 'v', modelFile: { file: 'float', onnx: fileModel } },
      ],
      { ...QUICK, precision: 'int8' },
    );
    expect(rows).toHaveLength(2);
    expect(timed.some((m) => m === fileModel)).toBe(true);
    expect(rows.map((r) => r.agentVersion)).toEqual(['edgenas-agent/0.1.0+int8', 'edgenas-agent/0.1.0']);
    const quantized = timed.filter((m) => opTypes(m).has('QuantizeLinear'));
    // warm-up reference and in-chunk reference (network a) and network a itself
    expect(quantized).toHaveLength(3);
  });
});
