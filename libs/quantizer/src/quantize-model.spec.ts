/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 *
 * INT8 models against their float models, both run by ONNX Runtime: a single conv within a worst-case
 * rounding bound, a small network within a noise budget, BatchNorm folded first (the INT8 model against tfjs's
 * unfolded network), and FBNet-B at 224×224: ≈4× smaller and every conv on integer kernels.
 */
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  FBNET_224,
  MacroConfig,
  baselineArchitectures,
  createRng,
  stemSignature,
} from '@edgenas/search-space';
import { NetworkGraph, lowerArchitecture, lowerSignature } from '@edgenas/search-space/graph';
import { NetworkWeights, initWeights } from '@edgenas/search-space/weights';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';
import {
  OnnxModel,
  buildOnnxModel,
  decodeOnnxModel,
  encodeOnnxModel,
  floatTensor,
  readFloatTensor,
  readIntTensor,
} from '@edgenas/search-space/onnx';
import {
  QuantizedModel,
  evaluateOnnx,
  ortOptimisedOps,
  quantizeModel,
  runOnnxModel,
} from '@edgenas/quantizer';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Seeded uniform [−1, 1) images for a graph's input, NCHW. */
function randomImages(graph: NetworkGraph, count: number, seed: number): Float32Array {
  const s = graph.inputShape;
  const rng = createRng(seed);
  return Float32Array.from({ length: count * s.channels * s.height * s.width }, () => rng.next() * 2 - 1);
}

function imageSize(graph: NetworkGraph): number {
  const s = graph.inputShape;
  return s.channels * s.height * s.width;
}

/** Random weights whose BN moving statistics are those of `nchw` (tfjs training-mode pass, momentum 0). */
function calibratedWeights(graph: NetworkGraph, seed: number, nchw: Float32Array): NetworkWeights {
  const net = buildTfjsNetwork(graph, initWeights(graph, seed, { randomBatchNorm: true }));
  const s = graph.inputShape;
  const x = tf.tidy(() =>
    tf.transpose(
      tf.tensor4d(nchw, [nchw.length / imageSize(graph), s.channels, s.height, s.width]),
      [0, 2, 3, 1],
    ),
  ) as tf.Tensor4D;
  tf.dispose(net.forward(x, { training: true, bnMomentum: 0 }));
  x.dispose();
  const weights = net.exportWeights();
  net.dispose();
  return weights;
}

function initializer(model: OnnxModel, name: string) {
  const t = model.graph.initializer.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** 10·log10(Σ reference² / Σ (reference − other)²). */
function sqnrDb(reference: Float32Array, other: Float32Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    signal += reference[i] ** 2;
    noise += (reference[i] - other[i]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

describe('one quantized conv stays within the worst-case rounding bound', () => {
  // FBNet's stem: 3 → 16 channels, 3×3, stride 2, BN (folded), ReLU; 16 images of 16×16, 12 calibrate
  const graph = lowerSignature({ ...stemSignature(FBNET_224), height: 16, width: 16 });
  const weights = initWeights(graph, 5, { randomBatchNorm: true });
  const images = randomImages(graph, 16, 6);
  const float = buildOnnxModel(graph, weights);
  let q: QuantizedModel;
  let calibration: Float32Array;
  let bound: number;

  beforeAll(async () => {
    q = await quantizeModel(float, images, { method: 'minmax' });
    calibration = images.subarray(0, q.report.calibrationImages * imageSize(graph));
    /*
     * With x̂ the dequantized input (|x̂ − x| ≤ s_in/2), ŵ the dequantized weights (|ŵ − w| ≤ s_w,c/2) and b̂ the
     * bias (|b̂ − b| ≤ s_b,c/2), the conv's accumulator differs from the float conv by
     *   Σ ŵ(x̂ − x) + Σ (ŵ − w)x + (b̂ − b),  so  |Δ| ≤ (s_in/2)·Σ_i|ŵ_ci| + (s_w,c/2)·Σ_i|x_i| + s_b,c/2,
     * with Σ_i|x_i| ≤ fanIn·max|x|. ReLU is 1-Lipschitz and the output rounding adds s_out/2. On the calibration
     * images nothing is clipped (their values lie inside the calibrated ranges, and clamping to a range that
     * holds the float value never moves the result away from it).
     */
    const int8 = decodeOnnxModel(q.int8Onnx);
    const qw = readIntTensor(initializer(int8, 'stem.weight.quantized'));
    const sw = readFloatTensor(initializer(int8, 'stem.weight.q_scale'));
    const sb = readFloatTensor(initializer(int8, 'stem.bias.q_scale'));
    const sIn = q.scales.activations['input'].scale;
    const sOut = q.scales.activations['output'].scale;
    const inputRange = q.scales.activations['input'].range;
    const maxInput = Math.max(Math.abs(inputRange.min), Math.abs(inputRange.max));
    const fanIn = qw.length / sw.length;
    bound = 0;
    for (let c = 0; c < sw.length; c++) {
      let sumAbs = 0;
      for (let j = 0; j < fanIn; j++) sumAbs += Math.abs(qw[c * fanIn + j]) * sw[c];
      const channel = (sIn / 2) * sumAbs + (sw[c] / 2) * fanIn * maxInput + sb[c] / 2 + sOut / 2;
      bound = Math.max(bound, channel);
    }
  });

  it('max |INT8 − float| ≤ the bound', async () => {
    const reference = await runOnnxModel(float, calibration);
    const int8 = await runOnnxModel(q.int8Onnx, calibration);
    const error = maxAbsDiff(reference.output, int8.output);
    console.log(`one conv: max |INT8 − float| ${error.toFixed(4)}, bound ${bound.toFixed(4)}`);
    expect(error).toBeGreaterThan(0);
    expect(error).toBeLessThanOrEqual(bound);
  });

  it('the check can fail: per-channel weight scales in reverse channel order break the bound', async () => {
    const int8 = decodeOnnxModel(q.int8Onnx);
    const scales = readFloatTensor(initializer(int8, 'stem.weight.q_scale'));
    const reversed = floatTensor('stem.weight.q_scale', [scales.length], scales.slice().reverse());
    const broken = encodeOnnxModel({
      ...int8,
      graph: {
        ...int8.graph,
        initializer: int8.graph.initializer.map((t) => (t.name === reversed.name ? reversed : t)),
      },
    });
    const reference = await runOnnxModel(float, calibration);
    const out = await runOnnxModel(broken, calibration);
    expect(maxAbsDiff(reference.output, out.output)).toBeGreaterThan(bound);
  });
});

/** Stem, an ir block with a residual, a stride-2 ir block, a shuffle unit (split, concat, shuffle), head. */
const TINY: MacroConfig = {
  name: 'test-tiny',
  input: { height: 12, width: 12, channels: 3 },
  stem: { channels: 8, kernel: 3, stride: 2 },
  stages: [
    { channels: 8, repeats: 1, firstStride: 1 },
    { channels: 16, repeats: 1, firstStride: 2 },
    { channels: 16, repeats: 1, firstStride: 1 },
  ],
  head: { channels: 32 },
  classes: 5,
};

describe('a small network, BatchNorm folded first', () => {
  const graph = lowerArchitecture({ blocks: ['ir_k3_e3', 'ir_k5_e6', 'shuffle_k3'] }, TINY);
  const images = randomImages(graph, 32, 11);
  let weights: NetworkWeights;
  let q: QuantizedModel;

  beforeAll(async () => {
    weights = calibratedWeights(graph, 12, images);
    q = await quantizeModel({ graph, weights }, images);
  });

  /*
   * Noise budget. A tensor rounded to 255 steps across its range carries noise of variance step²/12; for a BN
   * network's activations, whose RMS is about a sixth of their range, that is 10·log10(255²·12/36) ≈ 43 dB
   * below the signal. ±64 weights with a Gaussian spread (max ≈ 3σ) add 10·log10((64/3)²·12) ≈ 37 dB per layer.
   * This network has 27 such sources (15 calibrated tensors, 12 weighted layers); adding without gain, they give
   * ≈ 37 − 10·log10(27) ≈ 23 dB. Allowing 3 dB for the network amplifying noise: SQNR ≥ 20 dB.
   * (Measured: 27.4 dB. With full-range ±127 weights, on an x86 CPU without VNNI whose u8×s8 kernels saturate,
   * the same network gives 13.6 dB and fails.)
   */
  const MIN_SQNR_DB = 20;

  it(`INT8 logits are within the noise budget of the float logits (SQNR ≥ ${MIN_SQNR_DB} dB)`, async () => {
    expect(q.report.activationTensors).toBe(15);
    expect(q.report.quantizedNodes).toEqual({ Conv: 11, Gemm: 1 });
    const reference = await runOnnxModel(buildOnnxModel(graph, weights), images);
    const int8 = await runOnnxModel(q.int8Onnx, images);
    const sqnr = sqnrDb(reference.output, int8.output);
    console.log(`small network: SQNR ${sqnr.toFixed(1)} dB`);
    expect(sqnr).toBeGreaterThanOrEqual(MIN_SQNR_DB);
  });

  it('the INT8 model of the folded graph matches tfjs with BatchNorm unfolded (inference mode)', async () => {
    const net = buildTfjsNetwork(graph, weights);
    const s = graph.inputShape;
    const fromTfjs = tf.tidy(() =>
      net
        .forward(
          tf.transpose(tf.tensor4d(images, [32, s.channels, s.height, s.width]), [0, 2, 3, 1]) as tf.Tensor4D,
          { training: false },
        )
        .dataSync(),
    ) as Float32Array;
    net.dispose();
    const int8 = await runOnnxModel(q.int8Onnx, images);
    expect(sqnrDb(fromTfjs, int8.output)).toBeGreaterThanOrEqual(MIN_SQNR_DB);
    // the same INT8 rewrite of an unfolded model would compute without BN: far off
    const noBn = initWeights(graph, 0);
    for (const [name, value] of Object.entries(weights)) if (!name.includes('.bn.')) noBn[name] = value;
    const unfolded = await runOnnxModel(buildOnnxModel(graph, noBn), images);
    expect(sqnrDb(fromTfjs, unfolded.output)).toBeLessThan(MIN_SQNR_DB / 2);
  });

  it('reports min/max and percentile on the held-out slice and keeps the lower output error', () => {
    const [minmax, percentile] = q.report.candidates;
    expect(minmax.method).toBe('minmax');
    expect(percentile.method).toBe('percentile');
    console.log('held-out:', JSON.stringify(q.report.candidates));
    const lower = minmax.relativeError <= percentile.relativeError ? 'minmax' : 'percentile';
    expect(q.method).toBe(lower);
    expect(q.report.chosenBy).toBe('held-out output error');
    expect(q.report.heldOutImages).toBe(8);
    for (const c of q.report.candidates) {
      expect(c.sqnrDb).toBeCloseTo(-10 * Math.log10(c.relativeError), 6);
      expect(c.top1Agreement).toBeGreaterThanOrEqual(0);
    }
  });

  it('a forced method is used, and the percentile ranges lie inside the min/max ranges', async () => {
    const minmax = await quantizeModel({ graph, weights }, images, { method: 'minmax' });
    const percentile = await quantizeModel({ graph, weights }, images, {
      method: 'percentile',
      percentile: 99,
    });
    expect(percentile.method).toBe('percentile');
    expect(percentile.report.chosenBy).toBe('option');
    let narrower = 0;
    for (const [tensor, p] of Object.entries(percentile.scales.activations)) {
      const m = minmax.scales.activations[tensor].range;
      expect(p.range.min).toBeGreaterThanOrEqual(m.min);
      expect(p.range.max).toBeLessThanOrEqual(m.max);
      if (p.range.max - p.range.min < m.max - m.min) narrower++;
    }
    expect(narrower).toBeGreaterThan(0);
  });

  it('with labels, the report gives held-out top-1 accuracy of the float and INT8 models', async () => {
    const labels = Array.from({ length: 32 }, (_, i) => i % TINY.classes);
    const withLabels = await quantizeModel({ graph, weights }, images, { labels });
    expect(withLabels.report.floatTop1Accuracy).toBeGreaterThanOrEqual(0);
    const float = await evaluateOnnx(
      buildOnnxModel(graph, weights),
      images.subarray(24 * imageSize(graph)),
      labels.slice(24),
    );
    expect(withLabels.report.floatTop1Accuracy).toBe(float.top1);
    for (const c of withLabels.report.candidates) expect(c.top1Accuracy).toBeGreaterThanOrEqual(0);
  });
});

describe('FBNet-B at 224×224', () => {
  const config = FBNET_224;
  const arch = baselineArchitectures(config).find((b) => b.name === 'fbnet-b')!.architecture;
  const graph = lowerArchitecture(arch, config);

  it('the INT8 file is ≈4× smaller, and ONNX Runtime runs it with every conv on integer kernels', async () => {
    const weights = initWeights(graph, 21);
    const q = await quantizeModel({ graph, weights }, randomImages(graph, 4, 22));
    const { floatBytes, int8Bytes, sizeRatio } = q.report;
    console.log(`FBNet-B: float ${floatBytes} B, INT8 ${int8Bytes} B, ratio ${sizeRatio.toFixed(2)}`);
    // weights shrink 4×; per-channel scales and int32 biases cost a little back
    expect(sizeRatio).toBeGreaterThan(3.6);
    expect(sizeRatio).toBeLessThan(4);

    const session = await ort.InferenceSession.create(q.int8Onnx);
    const out = await session.run({
      input: new ort.Tensor('float32', randomImages(graph, 1, 23), [1, 3, 224, 224]),
    });
    await session.release();
    expect(out.logits.dims).toEqual([1, 1000]);
    expect((out.logits.data as Float32Array).every(Number.isFinite)).toBe(true);
    const ops = await ortOptimisedOps(q.int8Onnx);
    expect(ops.QLinearConv).toBe(q.report.quantizedNodes.Conv);
    expect(ops.QGemm).toBe(1);
    expect((ops.Conv ?? 0) + (ops.Gemm ?? 0) + (ops.DequantizeLinear ?? 0)).toBe(0);
  }, 300_000); // 4.8 M weights initialised and quantized: about a minute on a loaded machine
});

describe('evaluateOnnx', () => {
  /** A 3-class classifier whose logits are its input (fc with identity weights). */
  const graph: NetworkGraph = {
    name: 'identity-fc',
    input: 'input',
    inputShape: { channels: 3, height: 0, width: 0 },
    output: 'logits',
    outputShape: { channels: 3, height: 0, width: 0 },
    ops: [{ kind: 'fc', name: 'fc', input: 'input', output: 'logits', cin: 3, cout: 3 }],
    params: [
      { name: 'fc.weight', op: 'fc', role: 'fc_weight', shape: [3, 3], fanIn: 3, trainable: true },
      { name: 'fc.bias', op: 'fc', role: 'fc_bias', shape: [3], fanIn: 0, trainable: true },
    ],
    values: { input: { channels: 3, height: 0, width: 0 }, logits: { channels: 3, height: 0, width: 0 } },
    bnEpsilon: 1e-5,
  };
  const model = buildOnnxModel(graph, {
    'fc.weight': Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    'fc.bias': new Float32Array(3),
  });
  // largest input: 0, 1, 2, 1
  const images = [Float32Array.from([1, 0, 0, 0, 2, 1]), Float32Array.from([0, 0, 5, 3, 4, 0])];

  it('counts an image correct when its largest logit is its label, across batches', async () => {
    expect(await evaluateOnnx(model, images, [0, 1, 0, 1])).toEqual({ top1: 0.75, correct: 3, images: 4 });
    expect(await evaluateOnnx(model, images, [0, 1, 2, 1], { batchSize: 3 })).toEqual({
      top1: 1,
      correct: 4,
      images: 4,
    });
  });

  it('rejects labels that do not fit, naming them', async () => {
    await expect(evaluateOnnx(model, images, [0, 1, 2])).rejects.toMatchObject({ field: 'labels' });
    await expect(evaluateOnnx(model, images, [0, 1, 2, 3])).rejects.toThrow(
      /label 3 is 3, not a class index in 0–2/,
    );
    await expect(evaluateOnnx(model, images, [0, 1, -1, 0])).rejects.toMatchObject({ field: 'labels' });
    await expect(evaluateOnnx(model, [new Float32Array(4)], [0])).rejects.toMatchObject({ field: 'images' });
  });
});
