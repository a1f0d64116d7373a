/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 *
 * The ONNX model (run by ONNX Runtime) and the tfjs network (inference mode; on wasm, and on tfjs-node's
 * native TensorFlow where its binding was built at install) built from the same graph and weights must compute
 * the same function. Weights are seeded He-normal with random BN gamma/beta;
 * the BN moving statistics are set from a calibration batch (tfjs training-mode pass with momentum 0), so
 * activations stay O(1) through 22 layers and the statistics are non-trivial, as after training. Logits are
 * compared as max |ORT − tfjs| / max(1, max |logit|) ≤ 1e-4 (the absolute difference is printed too).
 */
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  Architecture,
  BLOCK_TYPES,
  BlockSignature,
  BlockType,
  FBNET_224,
  MacroConfig,
  PROXY_28,
  createRng,
  layoutLayers,
  sampleArchitecture,
  signatureKey,
  withGeometry,
} from '@edgenas/search-space';
import {
  GraphOp,
  NetworkGraph,
  isVector,
  lowerArchitecture,
  lowerSignature,
} from '@edgenas/search-space/graph';
import { NetworkWeights, initWeights } from '@edgenas/search-space/weights';
import { buildOnnxModel } from '@edgenas/search-space/onnx';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';

const TOLERANCE = 1e-4;

/** tfjs backends the whole architectures are checked on: wasm, and tensorflow when tfjs-node loads here. */
function tfjsBackends(): string[] {
  try {
    // Synchronous: the list of backends decides which tests exist. Optional dependency, may be absent.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
    return ['wasm', 'tensorflow'];
  } catch {
    return ['wasm'];
  }
}
const TFJS_BACKENDS = tfjsBackends();
const FBNET_64 = withGeometry(FBNET_224, { input: { height: 64, width: 64, channels: 3 } });

beforeAll(async () => {
  const wasmDir = path.join(
    path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')),
    'dist',
  );
  setWasmPaths(wasmDir + path.sep);
  await tf.setBackend('wasm');
});

function inputDims(graph: NetworkGraph, batch: number): [number, number, number, number] {
  const s = graph.inputShape;
  return [batch, s.channels, s.height, s.width];
}

/** Seeded random NCHW batch and its NHWC copy. */
function randomBatch(
  graph: NetworkGraph,
  batch: number,
  seed: number,
): { nchw: Float32Array; nhwc: tf.Tensor4D } {
  const rng = createRng(seed);
  const dims = inputDims(graph, batch);
  const nchw = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1);
  const nhwc = tf.tidy(() => tf.transpose(tf.tensor4d(nchw, dims), [0, 2, 3, 1]) as tf.Tensor4D);
  return { nchw, nhwc };
}

/** Random weights whose BN moving statistics are those of a calibration batch. */
function calibratedWeights(graph: NetworkGraph, seed: number): NetworkWeights {
  const net = buildTfjsNetwork(graph, initWeights(graph, seed, { randomBatchNorm: true }));
  const { nhwc } = randomBatch(graph, 4, seed + 1000);
  tf.dispose(net.forward(nhwc, { training: true, bnMomentum: 0 }));
  nhwc.dispose();
  const weights = net.exportWeights();
  net.dispose();
  return weights;
}

async function runOnnx(model: Uint8Array, nchw: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', nchw, dims) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** tfjs output in ORT's layout (NCHW for feature maps). */
function runTfjs(graph: NetworkGraph, weights: NetworkWeights, nhwc: tf.Tensor4D): Float32Array {
  const net = buildTfjsNetwork(graph, weights);
  try {
    return tf.tidy(() => {
      const y = net.forward(nhwc, { training: false });
      return (isVector(graph.outputShape) ? y : tf.transpose(y, [0, 3, 1, 2])).dataSync() as Float32Array;
    });
  } finally {
    net.dispose();
  }
}

interface Agreement {
  readonly maxAbsDiff: number;
  readonly maxAbsOutput: number;
  /** maxAbsDiff / max(1, maxAbsOutput). */
  readonly normalisedDiff: number;
}

/**
 * ORT on `onnxGraph`/`onnxWeights` (default: the same as tfjs) vs tfjs on `graph`/`weights`, batch of 2.
 * Passing a different ONNX side is how the tests show that a wrong shuffle or fold is caught.
 */
async function agreement(
  graph: NetworkGraph,
  weights: NetworkWeights,
  seed: number,
  onnxSide: { graph?: NetworkGraph; weights?: NetworkWeights } = {},
): Promise<Agreement> {
  const { nchw, nhwc } = randomBatch(graph, 2, seed);
  const fromOrt = await runOnnx(
    buildOnnxModel(onnxSide.graph ?? graph, onnxSide.weights ?? weights),
    nchw,
    inputDims(graph, 2),
  );
  const fromTfjs = runTfjs(graph, weights, nhwc);
  nhwc.dispose();
  expect(fromOrt.length).toBe(fromTfjs.length);
  let maxAbsDiff = 0;
  let maxAbsOutput = 0;
  for (let i = 0; i < fromOrt.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(fromOrt[i] - fromTfjs[i]));
    maxAbsOutput = Math.max(maxAbsOutput, Math.abs(fromOrt[i]));
  }
  return { maxAbsDiff, maxAbsOutput, normalisedDiff: maxAbsDiff / Math.max(1, maxAbsOutput) };
}

/** Architectures that force every feature in: g2, both shuffle variants, skip, residual ir, stride 2. */
function forcedArchitecture(config: MacroConfig, pattern: 'shuffle' | 'g2-skip' | 'mixed'): Architecture {
  const blocks = layoutLayers([], config).map((l, i): BlockType => {
    const same = l.stride === 1 && l.cin === l.cout;
    if (pattern === 'shuffle') return i % 2 === 0 ? 'shuffle_k3' : 'shuffle_k5';
    if (pattern === 'g2-skip')
      return same && i % 2 === 0 ? 'skip' : i % 3 === 0 ? 'ir_k5_e1_g2' : 'ir_k3_e1_g2';
    return same ? (['ir_k3_e6', 'skip', 'shuffle_k5', 'ir_k5_e1_g2'] as const)[i % 4] : 'shuffle_k3';
  });
  return { blocks };
}

interface Case {
  readonly label: string;
  readonly config: MacroConfig;
  readonly arch: Architecture;
  readonly seed: number;
}

const cases: Case[] = [
  ...[1, 2, 3, 4, 5, 6, 7].map((seed) => ({ label: 'sampled', config: PROXY_28, seed })),
  ...[8, 9, 10, 11, 12, 13].map((seed) => ({ label: 'sampled', config: FBNET_64, seed })),
  { label: 'sampled', config: FBNET_224, seed: 14 },
].map((c) => ({ ...c, arch: sampleArchitecture(c.config, createRng(c.seed)) }));
cases.push(
  { label: 'forced shuffle', config: PROXY_28, arch: forcedArchitecture(PROXY_28, 'shuffle'), seed: 21 },
  { label: 'forced g2+skip', config: PROXY_28, arch: forcedArchitecture(PROXY_28, 'g2-skip'), seed: 22 },
  { label: 'forced mixed', config: PROXY_28, arch: forcedArchitecture(PROXY_28, 'mixed'), seed: 23 },
  { label: 'forced shuffle', config: FBNET_64, arch: forcedArchitecture(FBNET_64, 'shuffle'), seed: 24 },
  { label: 'forced g2+skip', config: FBNET_64, arch: forcedArchitecture(FBNET_64, 'g2-skip'), seed: 25 },
  { label: 'forced mixed', config: FBNET_224, arch: forcedArchitecture(FBNET_224, 'mixed'), seed: 26 },
);

describe('ONNX Runtime and tfjs agree on whole architectures', () => {
  const covered = new Set<string>();

  it.each(cases.map((c): [string, string, Case] => [c.config.name, c.label, c]))(
    '%s %s',
    async (_space, _label, c) => {
      const graph = lowerArchitecture(c.arch, c.config);
      const weights = calibratedWeights(graph, c.seed);
      try {
        for (const backend of TFJS_BACKENDS) {
          await tf.setBackend(backend);
          const result = await agreement(graph, weights, c.seed);
          expect(result.maxAbsOutput).toBeGreaterThan(0);
          if (!(result.normalisedDiff <= TOLERANCE)) {
            throw new Error(
              `tfjs on ${backend}: normalised difference ${result.normalisedDiff} > ${TOLERANCE}`,
            );
          }
        }
      } finally {
        await tf.setBackend('wasm');
      }
      for (const feature of features(graph, c.arch)) covered.add(feature);
    },
  );

  it('the cases cover g2, both shuffle units, skip, residuals and stride 2 at both geometries', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(cases.filter((c) => c.config.input.height === 224).length).toBeGreaterThanOrEqual(2);
    expect([...covered].sort()).toEqual(
      ['add', 'g2', 'shuffle-split', 'shuffle-two-branch', 'skip', 'stride2'].sort(),
    );
  });
});

function features(graph: NetworkGraph, arch: Architecture): string[] {
  const out = new Set<string>();
  const has = (f: (op: GraphOp) => boolean) => graph.ops.some(f);
  if (has((op) => op.kind === 'conv' && op.groups === 2)) out.add('g2');
  if (has((op) => op.kind === 'split')) out.add('shuffle-split');
  if (has((op) => op.kind === 'depthwise' && op.name.endsWith('.left.dw'))) out.add('shuffle-two-branch');
  if (has((op) => op.kind === 'add')) out.add('add');
  if (has((op) => op.kind === 'depthwise' && op.stride === 2)) out.add('stride2');
  if (arch.blocks.includes('skip')) out.add('skip');
  return [...out];
}

describe('ONNX Runtime and tfjs agree on every single-block network', () => {
  const sigs: BlockSignature[] = BLOCK_TYPES.filter((b) => b !== 'skip').flatMap((op) => {
    const m = /_k(\d)(?:_e(\d))?(?:_g(\d))?/.exec(op)!;
    const base = { op, kernel: Number(m[1]), expansion: Number(m[2] ?? 1), groups: Number(m[3] ?? 1) };
    const common = { activation: 'relu' as const, classes: 0 };
    return [
      { ...base, ...common, stride: 1, cin: 16, cout: 16, height: 7, width: 7 },
      { ...base, ...common, stride: 2, cin: 16, cout: 24, height: 7, width: 7 },
    ];
  });
  it.each(sigs.map((s): [string, BlockSignature] => [signatureKey(s), s]))('%s', async (_key, sig) => {
    const graph = lowerSignature(sig);
    const result = await agreement(graph, calibratedWeights(graph, 3), 4);
    expect(result.normalisedDiff).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('the agreement check can fail', () => {
  const config = PROXY_28;
  const arch = forcedArchitecture(config, 'shuffle');
  const graph = lowerArchitecture(arch, config);
  let weights: NetworkWeights;
  beforeAll(() => {
    weights = calibratedWeights(graph, 31);
  });

  it('a channel shuffle with the transposed permutation (groups C/g instead of g) is caught', async () => {
    const wrongShuffle: NetworkGraph = {
      ...graph,
      ops: graph.ops.map((op) => (op.kind === 'shuffle' ? { ...op, groups: op.channels / op.groups } : op)),
    };
    expect(wrongShuffle.ops.some((op) => op.kind === 'shuffle' && op.groups !== 2)).toBe(true);
    const result = await agreement(graph, weights, 32, { graph: wrongShuffle });
    expect(result.normalisedDiff).toBeGreaterThan(100 * TOLERANCE);
  });

  it('a BN fold that ignores the moving mean is caught', async () => {
    const meanIgnored: NetworkWeights = { ...weights };
    for (const name of Object.keys(weights)) {
      if (name.endsWith('.bn.mean')) meanIgnored[name] = new Float32Array(weights[name].length);
    }
    const result = await agreement(graph, weights, 33, { weights: meanIgnored });
    expect(result.normalisedDiff).toBeGreaterThan(100 * TOLERANCE);
  });

  it('a BN fold that takes the variance for the standard deviation is caught', async () => {
    const varAsStd: NetworkWeights = { ...weights };
    for (const name of Object.keys(weights)) {
      if (name.endsWith('.bn.var')) varAsStd[name] = weights[name].map((v) => v * v);
    }
    const result = await agreement(graph, weights, 34, { weights: varAsStd });
    expect(result.normalisedDiff).toBeGreaterThan(100 * TOLERANCE);
  });
});
