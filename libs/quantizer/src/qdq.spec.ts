/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 *
 * The QDQ rewrite on a network small enough to check by hand: one 1x1 conv, 2 → 2 channels, with BatchNorm
 * (folded by the builder) and known calibration data.
 */
import { NetworkGraph } from '@edgenas/search-space/graph';
import { NetworkWeights } from '@edgenas/search-space/weights';
import {
  OnnxModel,
  TENSOR_FLOAT,
  TENSOR_UINT8,
  buildOnnxModel,
  decodeOnnxModel,
  encodeOnnxModel,
  readFloatTensor,
  readIntTensor,
} from '@edgenas/search-space/onnx';
import { QuantizationInputError, ortOptimisedOps, quantizeModel, runOnnxModel } from '@edgenas/quantizer';

/** input [2 channels, 1×2 pixels] → conv 1x1 (2 → 2) → BN → output. BN epsilon 0 keeps the fold exact. */
const graph: NetworkGraph = {
  name: 'one-conv',
  input: 'input',
  inputShape: { channels: 2, height: 1, width: 2 },
  output: 'output',
  outputShape: { channels: 2, height: 1, width: 2 },
  ops: [
    {
      kind: 'conv',
      name: 'conv',
      input: 'input',
      output: 'output',
      kernel: 1,
      stride: 1,
      groups: 1,
      cin: 2,
      cout: 2,
      bn: true,
      relu: false,
    },
  ],
  params: [
    { name: 'conv.weight', op: 'conv', role: 'conv_weight', shape: [2, 2, 1, 1], fanIn: 2, trainable: true },
    ...(['gamma', 'beta', 'mean', 'var'] as const).map((p) => ({
      name: `conv.bn.${p}`,
      op: 'conv',
      role: `bn_${p}` as const,
      shape: [2],
      fanIn: 0,
      trainable: p === 'gamma' || p === 'beta',
    })),
  ],
  values: { input: { channels: 2, height: 1, width: 2 }, output: { channels: 2, height: 1, width: 2 } },
  bnEpsilon: 0,
};

/**
 * BN scale s = γ/√var = [2/1, 1/2] = [2, 0.5]; folded weights s·W = [[0.5, −2], [0.125, 0.5]];
 * folded bias β − s·μ = [0.75 − 2·0.25, −0.25 − 0.5·0] = [0.25, −0.25].
 */
const weights: NetworkWeights = {
  'conv.weight': Float32Array.from([0.25, -1, 0.25, 1]),
  'conv.bn.gamma': Float32Array.from([2, 1]),
  'conv.bn.beta': Float32Array.from([0.75, -0.25]),
  'conv.bn.mean': Float32Array.from([0.25, 0]),
  'conv.bn.var': Float32Array.from([1, 4]),
};

/**
 * NCHW images of 4 values: (channel 0: pixel 0, pixel 1), (channel 1: pixel 0, pixel 1). The first three
 * calibrate, the fourth is held out (heldOutFraction 0.25 of 4).
 * Input range [−1, 3]. Outputs y_c = Σ w_ci x_i + b_c per pixel:
 *   image 1: pixel 0 x = (−1, 1) → y = (−2.25, 0.125); pixel 1 x = (0, 2) → (−3.75, 0.75)
 *   image 2: pixel 0 x = (3, −0.5) → (2.75, −0.125); pixel 1 x = (0.5, 1) → (−1.5, 0.3125)
 *   image 3: zeros → (0.25, −0.25)
 * Output range [−3.75, 2.75].
 */
const images = [
  Float32Array.from([-1, 0, 1, 2]),
  Float32Array.from([3, 0.5, -0.5, 1]),
  Float32Array.from([0, 0, 0, 0]),
  Float32Array.from([0.5, 0.5, 0.5, 0.5]),
];

function initializer(model: OnnxModel, name: string) {
  const t = model.graph.initializer.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
}

describe('QDQ quantization of a one-conv network', () => {
  it('activation scales and zero points are those of the calibration data, weights those of the folded conv', async () => {
    const q = await quantizeModel({ graph, weights }, images, { method: 'minmax' });
    expect(q.report.calibrationImages).toBe(3);
    expect(q.report.heldOutImages).toBe(1);

    // input [−1, 3]: scale 4/255, zero point round(1 / (4/255)) = round(63.75) = 64
    const input = q.scales.activations['input'];
    expect(input.range).toEqual({ min: -1, max: 3 });
    expect(input.scale).toBeCloseTo(4 / 255, 7);
    expect(input.zeroPoint).toBe(64);
    // output [−3.75, 2.75]: scale 6.5/255, zero point round(3.75 / (6.5/255)) = round(147.1) = 147
    const output = q.scales.activations['output'];
    expect(output.range).toEqual({ min: -3.75, max: 2.75 });
    expect(output.scale).toBeCloseTo(6.5 / 255, 7);
    expect(output.zeroPoint).toBe(147);
    // weights (reduced range, the default): max|w_c| / 64 = [2/64, 0.5/64] of the folded weights
    expect([...q.scales.weights['conv.weight']]).toEqual([1 / 32, 1 / 128]);

    const int8 = decodeOnnxModel(q.int8Onnx);
    // folded weights / scale: [0.5·32, −2·32] and [0.125·128, 0.5·128]
    const w = initializer(int8, 'conv.weight.quantized');
    expect(w.dims).toEqual([2, 2, 1, 1]);
    expect([...readIntTensor(w)]).toEqual([16, -64, 16, 64]);
    expect([...readIntTensor(initializer(int8, 'conv.weight.q_zero_point'))]).toEqual([0, 0]);
    // bias at scale s_in · s_w,c: 0.25 / ((4/255)/32) = 510, −0.25 / ((4/255)/128) = −2040
    expect([...readIntTensor(initializer(int8, 'conv.bias.quantized'))]).toEqual([510, -2040]);
    const biasScale = readFloatTensor(initializer(int8, 'conv.bias.q_scale'));
    expect(biasScale[0]).toBeCloseTo(4 / 255 / 32, 9);
    expect(biasScale[1]).toBeCloseTo(4 / 255 / 128, 9);
    // activations: uint8 zero points, scalar scales
    const inputZeroPoint = initializer(int8, 'input.q_zero_point');
    expect(inputZeroPoint.dataType).toBe(TENSOR_UINT8);
    expect([...readIntTensor(inputZeroPoint)]).toEqual([64]);
    expect([...readIntTensor(initializer(int8, 'output.q_zero_point'))]).toEqual([147]);
    // no float weight is left
    expect(int8.graph.initializer.filter((t) => t.dataType === TENSOR_FLOAT && t.dims.length > 1)).toEqual(
      [],
    );

    expect(int8.graph.node.map((n) => `${n.opType}(${n.input[0]})`)).toEqual([
      'QuantizeLinear(input)',
      'DequantizeLinear(input.quantized)',
      'DequantizeLinear(conv.weight.quantized)',
      'DequantizeLinear(conv.bias.quantized)',
      'Conv(input.dequantized)',
      'QuantizeLinear(output.float)',
      'DequantizeLinear(output.quantized)',
    ]);
    const weightDq = int8.graph.node.find((n) => n.input[0] === 'conv.weight.quantized')!;
    expect(weightDq.attribute).toEqual([expect.objectContaining({ name: 'axis', i: 0 })]);
  });

  it('full-range weights: scale max|w_c| / 127', async () => {
    const q = await quantizeModel({ graph, weights }, images, { method: 'minmax', reduceRange: false });
    expect([...q.scales.weights['conv.weight']]).toEqual([2 / 127, 0.5 / 127].map(Math.fround));
    // 0.5 / (2/127) = 31.75 → 32, −2 → −127; 0.125 / (0.5/127) = 31.75 → 32, 0.5 → 127
    expect([...readIntTensor(initializer(decodeOnnxModel(q.int8Onnx), 'conv.weight.quantized'))]).toEqual([
      32, -127, 32, 127,
    ]);
  });

  it('ONNX Runtime runs it as QLinearConv and the held-out image comes out within one output step', async () => {
    const q = await quantizeModel({ graph, weights }, images, { method: 'minmax' });
    const ops = await ortOptimisedOps(q.int8Onnx);
    expect(ops).toEqual({ QuantizeLinear: 1, QLinearConv: 1, DequantizeLinear: 1 });
    // held-out image x = 0.5 everywhere: y = (0.5·0.5 − 2·0.5 + 0.25, 0.125·0.5 + 0.5·0.5 − 0.25) = (−0.5, 0.0625)
    const { output } = await runOnnxModel(q.int8Onnx, images[3]);
    const step = q.scales.activations['output'].scale;
    for (const [i, expected] of [-0.5, -0.5, 0.0625, 0.0625].entries()) {
      expect(Math.abs(output[i] - expected)).toBeLessThanOrEqual(step);
    }
  });

  it('refuses a model with an unfolded BatchNormalization, naming the node', async () => {
    const float = decodeOnnxModel(buildOnnxModel(graph, weights));
    const withBn: OnnxModel = {
      ...float,
      graph: {
        ...float.graph,
        node: [
          {
            name: 'bn',
            opType: 'BatchNormalization',
            input: ['input', 's', 'b', 'm', 'v'],
            output: ['x'],
            attribute: [],
          },
          { ...float.graph.node[0], input: ['x', ...float.graph.node[0].input.slice(1)] },
        ],
      },
    };
    const attempt = quantizeModel(encodeOnnxModel(withBn), images);
    await expect(attempt).rejects.toThrow(QuantizationInputError);
    await expect(attempt).rejects.toThrow(/"bn" is a BatchNormalization: fold BatchNorm/);
  });

  it('refuses ops it does not know, and calibration images of the wrong size', async () => {
    const float = decodeOnnxModel(buildOnnxModel(graph, weights));
    const sigmoid: OnnxModel = {
      ...float,
      graph: {
        ...float.graph,
        node: [{ name: 'act', opType: 'Sigmoid', input: ['input'], output: ['output'], attribute: [] }],
      },
    };
    await expect(quantizeModel(encodeOnnxModel(sigmoid), images)).rejects.toThrow(
      /"act": Sigmoid is not supported/,
    );
    await expect(quantizeModel({ graph, weights }, [new Float32Array(6)])).rejects.toMatchObject({
      field: 'calibration',
    });
    await expect(quantizeModel({ graph, weights }, images.slice(0, 1))).rejects.toThrow(/at least 2 images/);
    await expect(quantizeModel({ graph, weights }, images, { percentile: 100 })).rejects.toMatchObject({
      field: 'opts.percentile',
    });
    await expect(quantizeModel({ graph, weights }, images, { heldOutFraction: 1 })).rejects.toMatchObject({
      field: 'opts.heldOutFraction',
    });
  });
});
