/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
import * as ort from 'onnxruntime-node';
import {
  BLOCK_TYPES,
  BlockSignature,
  FBNET_224,
  PROXY_28,
  headSignature,
  signatureKey,
  stemSignature,
} from '@edgenas/search-space';
import { NetworkGraph, isVector, lowerSignature } from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildNullOnnxModel, buildOnnxModel, foldBatchNorm } from '@edgenas/search-space/onnx';

async function run(model: Uint8Array, input: Float32Array, dims: number[]): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', input, dims) });
    return out[session.outputNames[0]];
  } finally {
    await session.release();
  }
}

function expectedDims(graph: NetworkGraph, batch: number): number[] {
  const s = graph.outputShape;
  return isVector(s) ? [batch, s.channels] : [batch, s.channels, s.height, s.width];
}

const blockSignatures: BlockSignature[] = BLOCK_TYPES.filter((b) => b !== 'skip').flatMap((op) => {
  const m = /_k(\d)(?:_e(\d))?(?:_g(\d))?/.exec(op)!;
  const base = { op, kernel: Number(m[1]), expansion: Number(m[2] ?? 1), groups: Number(m[3] ?? 1) };
  const common = { activation: 'relu' as const, classes: 0 };
  return [
    { ...base, ...common, stride: 1, cin: 16, cout: 16, height: 9, width: 9 },
    { ...base, ...common, stride: 2, cin: 16, cout: 24, height: 9, width: 9 },
    { ...base, ...common, stride: 1, cin: 16, cout: 24, height: 6, width: 6 },
  ];
});

describe('buildOnnxModel', () => {
  it.each(
    [
      ...blockSignatures,
      stemSignature(PROXY_28),
      headSignature(PROXY_28),
      { ...stemSignature(FBNET_224), height: 33, width: 33 },
    ].map((sig): [string, BlockSignature] => [signatureKey(sig), sig]),
  )('%s runs in ONNX Runtime with a symbolic batch', async (_key, sig) => {
    const graph = lowerSignature(sig);
    const model = buildOnnxModel(graph, initWeights(graph, 1, { randomBatchNorm: true }));
    for (const batch of [1, 2]) {
      const n = batch * sig.cin * sig.height * sig.width;
      const out = await run(
        model,
        Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
        [batch, sig.cin, sig.height, sig.width],
      );
      expect(out.dims).toEqual(expectedDims(graph, batch));
      expect((out.data as Float32Array).every(Number.isFinite)).toBe(true);
    }
  });

  it('names the input "input" and a classifier output "logits"', async () => {
    const graph = lowerSignature(headSignature(PROXY_28));
    const session = await ort.InferenceSession.create(buildOnnxModel(graph, initWeights(graph, 2)));
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['logits']);
    await session.release();
  });

  it('rejects weights that do not fit the graph, naming the parameter', () => {
    const graph = lowerSignature(stemSignature(PROXY_28));
    const weights = initWeights(graph, 1);
    weights['stem.weight'] = new Float32Array(5);
    expect(() => buildOnnxModel(graph, weights)).toThrow(/stem\.weight/);
  });
});

describe('foldBatchNorm', () => {
  it('conv then BN equals the folded conv (per output channel scale and shift)', () => {
    // A 1x1 conv with 2 outputs, 3 inputs applied to one pixel.
    const w = Float32Array.from([1, -2, 0.5, 3, 0.25, -1]);
    const x = [0.3, -1.2, 2];
    const bn = {
      gamma: Float32Array.from([1.5, 0.5]),
      beta: Float32Array.from([0.1, -0.2]),
      mean: Float32Array.from([0.4, -0.3]),
      variance: Float32Array.from([2, 0.7]),
    };
    const eps = 1e-5;
    const folded = foldBatchNorm(w, bn, eps);
    for (let o = 0; o < 2; o++) {
      const conv = x.reduce((s, xi, i) => s + xi * w[o * 3 + i], 0);
      const reference = (bn.gamma[o] * (conv - bn.mean[o])) / Math.sqrt(bn.variance[o] + eps) + bn.beta[o];
      const viaFold = x.reduce((s, xi, i) => s + xi * folded.weight[o * 3 + i], 0) + folded.bias[o];
      expect(viaFold).toBeCloseTo(reference, 5);
    }
  });
});

describe('buildNullOnnxModel', () => {
  it('has the given input and output shapes and copies one input element', async () => {
    const input = Float32Array.from({ length: 16 * 8 * 8 }, (_, i) => i + 3);
    const out = await run(buildNullOnnxModel([1, 16, 8, 8], [1, 24, 4, 4]), input, [1, 16, 8, 8]);
    expect(out.dims).toEqual([1, 24, 4, 4]);
    expect([...(out.data as Float32Array)].every((v) => v === 3)).toBe(true);
    const logits = await run(buildNullOnnxModel([1, 16, 8, 8], [1, 10]), input, [1, 16, 8, 8]);
    expect(logits.dims).toEqual([1, 10]);
  });

  it('rejects non-positive or fractional dimensions', () => {
    expect(() => buildNullOnnxModel([1, 0, 8, 8], [1, 10])).toThrow(/input shape/);
    expect(() => buildNullOnnxModel([1, 3, 8, 8], [1.5])).toThrow(/output shape/);
  });
});
