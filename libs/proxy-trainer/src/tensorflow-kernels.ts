/**
 * Kernels for tfjs-node's `tensorflow` backend, each one TensorFlow eager op run through the backend's binding:
 * - convolutions and their four gradients with explicit or numeric padding: tfjs-node 4.22 passes padding
 *   'EXPLICIT' to the gradients without the `explicit_paddings` attribute (TensorFlow rejects the op) and refuses
 *   numeric padding, and the search-space builder pads explicitly and symmetrically, as ONNX does;
 * - training-mode BatchNorm (`TRAINING_BATCH_NORM`) as FusedBatchNormV3 with is_training, and its gradient as
 *   FusedBatchNormGradV3: one op each way instead of the ~12 of the composed closed form;
 * - Identity by reference (as the cpu backend does): tfjs-node copies through a TensorFlow op, and the engine
 *   clones every tensor it saves for the backward pass (~1,000 ops per training step of the reference net);
 * - the ReLU gradient (`RELU_GRAD`) as ReluGrad: tfjs's dy·step(x) costs five TensorFlow ops (Step is composed
 *   of IsNan, Greater, Fill and Select in tfjs-node).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelBackend, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { TRAINING_BATCH_NORM, TRAINING_BATCH_NORM_GRAD } from '@edgenas/search-space/tfjs';
import { RELU_GRAD } from './relu-gradient';
import { FLAT_ADAM_UPDATE, FlatAdamAttrs } from './optimizer';

interface OpAttr {
  readonly name: string;
  readonly type: number;
  readonly value: number | number[] | string | boolean;
}

/** A TensorFlow eager handle as the binding reports it. */
interface TensorMetadata {
  readonly id: number;
  readonly shape: number[];
  readonly dtype: number;
}

/** What these kernels use of tfjs-node's NodeJSKernelBackend (not exported as a type by the package). */
interface TensorflowBackend extends KernelBackend {
  incRef(dataId: object): void;
  readonly binding: {
    readonly TF_ATTR_INT: number;
    readonly TF_ATTR_FLOAT: number;
    readonly TF_ATTR_STRING: number;
    readonly TF_ATTR_BOOL: number;
    readonly TF_ATTR_TYPE: number;
    readonly TF_FLOAT: number;
    readonly TF_INT32: number;
    createTensor(shape: number[], dtype: number, values: Float32Array | Int32Array): number;
    deleteTensor(id: number): void;
    executeOp(name: string, attrs: OpAttr[], inputIds: number[], numOutputs: number): TensorMetadata[];
  };
  getInputTensorIds(inputs: TensorInfo[]): number[];
  createOutputTensor(metadata: TensorMetadata): tf.Tensor;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TensorInfo[]): tf.Tensor;
  executeMultipleOutputs(
    name: string,
    attrs: OpAttr[],
    inputs: TensorInfo[],
    numOutputs: number,
  ): tf.Tensor[];
}

export const TENSORFLOW_BACKEND = 'tensorflow';

function tensorflowBackend(backend: unknown): TensorflowBackend {
  const b = (backend ?? {}) as Partial<TensorflowBackend>;
  if (typeof b.executeMultipleOutputs !== 'function' || !b.binding) {
    throw new Error('not the tfjs-node "tensorflow" backend');
  }
  return b as TensorflowBackend;
}

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** strides, padding (with explicit_paddings where the padding is explicit), data format and dilations. */
function convAttrs(b: TensorflowBackend, info: ConvInfo): OpAttr[] {
  const { binding } = b;
  const pad = info.padInfo;
  const explicit = pad.type !== 'VALID' && pad.type !== 'SAME';
  const attrs: OpAttr[] = [
    { name: 'T', type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT },
    { name: 'strides', type: binding.TF_ATTR_INT, value: [1, info.strideHeight, info.strideWidth, 1] },
    { name: 'padding', type: binding.TF_ATTR_STRING, value: explicit ? 'EXPLICIT' : pad.type },
    { name: 'data_format', type: binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'dilations', type: binding.TF_ATTR_INT, value: [1, info.dilationHeight, info.dilationWidth, 1] },
  ];
  if (explicit) {
    attrs.push({
      name: 'explicit_paddings',
      type: binding.TF_ATTR_INT,
      value: [0, 0, pad.top, pad.bottom, pad.left, pad.right, 0, 0],
    });
  }
  return attrs;
}

function checkChannelsLast(info: ConvInfo, kernelName: string): void {
  if (info.dataFormat !== 'channelsLast') throw new Error(`${kernelName}: only NHWC is supported here`);
}

/** Runs `op` with an int32 shape tensor as one input, freed afterwards. */
function withShapeInput(shape: number[], run: (sizes: TensorInfo) => tf.Tensor): tf.Tensor {
  const sizes = tf.tensor1d(shape, 'int32');
  try {
    return run(sizes);
  } finally {
    sizes.dispose();
  }
}

const conv2D: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  checkChannelsLast(info, 'Conv2D');
  const b = tensorflowBackend(backend);
  const opAttrs = [
    ...convAttrs(b, info),
    { name: 'use_cudnn_on_gpu', type: b.binding.TF_ATTR_BOOL, value: false },
  ];
  return b.executeSingleOutput('Conv2D', opAttrs, [x, filter]);
};

const depthwiseConv2D: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dilations, dimRoundingMode } =
    attrs as unknown as tf.DepthwiseConv2dNativeAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  checkChannelsLast(info, 'DepthwiseConv2dNative');
  const b = tensorflowBackend(backend);
  return b.executeSingleOutput('DepthwiseConv2dNative', convAttrs(b, info), [x, filter]);
};

const conv2DBackpropInput: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  checkChannelsLast(info, 'Conv2DBackpropInput');
  const b = tensorflowBackend(backend);
  const opAttrs = [
    ...convAttrs(b, info),
    { name: 'use_cudnn_on_gpu', type: b.binding.TF_ATTR_BOOL, value: false },
  ];
  return withShapeInput(info.inShape, (sizes) =>
    b.executeSingleOutput('Conv2DBackpropInput', opAttrs, [sizes, filter, dy]),
  );
};

const conv2DBackpropFilter: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  checkChannelsLast(info, 'Conv2DBackpropFilter');
  const b = tensorflowBackend(backend);
  const opAttrs = [
    ...convAttrs(b, info),
    { name: 'use_cudnn_on_gpu', type: b.binding.TF_ATTR_BOOL, value: false },
  ];
  return withShapeInput(info.filterShape, (sizes) =>
    b.executeSingleOutput('Conv2DBackpropFilter', opAttrs, [x, sizes, dy]),
  );
};

const depthwiseBackpropInput: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const b = tensorflowBackend(backend);
  return withShapeInput(info.inShape, (sizes) =>
    b.executeSingleOutput('DepthwiseConv2dNativeBackpropInput', convAttrs(b, info), [sizes, filter, dy]),
  );
};

const depthwiseBackpropFilter: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const b = tensorflowBackend(backend);
  return withShapeInput(info.filterShape, (sizes) =>
    b.executeSingleOutput('DepthwiseConv2dNativeBackpropFilter', convAttrs(b, info), [x, sizes, dy]),
  );
};

function batchNormAttrs(b: TensorflowBackend, epsilon: number): OpAttr[] {
  const { binding } = b;
  return [
    { name: 'T', type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT },
    { name: 'U', type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT },
    { name: 'epsilon', type: binding.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: binding.TF_ATTR_BOOL, value: true },
  ];
}

/**
 * inputs { x, scale, offset }, attrs { varianceEpsilon } → [y, batch mean, biased batch variance].
 * FusedBatchNormV3's outputs: y, mean, variance with Bessel's correction (for the moving average), then
 * reserve spaces; on CPU reserve_space_1/2 are the batch mean and the biased variance, which the gradient op
 * takes back.
 */
const trainingBatchNorm: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, scale, offset } = inputs as { x: TensorInfo; scale: TensorInfo; offset: TensorInfo };
  const epsilon = (attrs as NamedAttrMap).varianceEpsilon as number;
  const b = tensorflowBackend(backend);
  // Running statistics are not read in training mode (exponential_avg_factor 1): empty placeholders.
  const empty = tf.tensor1d([], 'float32');
  try {
    const outputs = b.executeMultipleOutputs(
      'FusedBatchNormV3',
      [
        ...batchNormAttrs(b, epsilon),
        { name: 'exponential_avg_factor', type: b.binding.TF_ATTR_FLOAT, value: 1 },
      ],
      [x, scale, offset, empty, empty],
      6,
    );
    const [y, , , mean, variance, reserve] = outputs;
    tf.dispose([outputs[1], outputs[2], reserve]);
    return [y, mean, variance];
  } finally {
    empty.dispose();
  }
};

/** inputs { dy, x, scale, mean, variance } (the batch's, variance biased) → [dx, dScale, dOffset]. */
const trainingBatchNormGrad: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, x, scale, mean, variance } = inputs as Record<string, TensorInfo>;
  const epsilon = (attrs as NamedAttrMap).varianceEpsilon as number;
  const b = tensorflowBackend(backend);
  const empty = tf.tensor1d([], 'float32');
  try {
    const outputs = b.executeMultipleOutputs(
      'FusedBatchNormGradV3',
      batchNormAttrs(b, epsilon),
      [dy, x, scale, mean, variance, empty],
      5,
    );
    tf.dispose(outputs.slice(3));
    return outputs.slice(0, 3);
  } finally {
    empty.dispose();
  }
};

/** inputs { dy, x } → dy where x > 0, else 0. */
const reluGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const b = tensorflowBackend(backend);
  return b.executeSingleOutput(
    'ReluGrad',
    [{ name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT }],
    [dy, x],
  );
};

const identityByReference: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  tensorflowBackend(backend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/**
 * Adam over all variables as one flat vector (`FLAT_ADAM_UPDATE`), straight on the binding's TensorFlow handles:
 * the ~500 small ops (a reshape per gradient, a split, a reshape and subtract per variable, ~12 vector ops) run
 * without tfjs's per-op bookkeeping, which cost about as much as the ops themselves. Shape, axis and split-size
 * handles are made once per variable list and kept.
 */
const constantHandles = new Map<string, number>();

function constantHandle(b: TensorflowBackend, key: string, shape: number[], values: Int32Array): number {
  let id = constantHandles.get(key);
  if (id === undefined) {
    id = b.binding.createTensor(shape, b.binding.TF_INT32, values);
    constantHandles.set(key, id);
  }
  return id;
}

const flatAdamUpdate: KernelFunc = ({ inputs, attrs, backend }) => {
  const b = tensorflowBackend(backend);
  const { binding } = b;
  const a = attrs as unknown as FlatAdamAttrs;
  const named = inputs as Record<string, TensorInfo>;
  const count = a.count;
  const vars = Array.from({ length: count }, (_, i) => named[`v${i}`]);
  const grads = Array.from({ length: count }, (_, i) => named[`g${i}`]);
  const [m, s, decayMask] = b.getInputTensorIds([
    named.m,
    named.s,
    ...(named.decayMask ? [named.decayMask] : []),
  ]);
  const varIds = b.getInputTensorIds(vars);
  const gradIds = b.getInputTensorIds(grads);
  const float = { name: 'T', type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT };
  const int32 = (name: string) => ({ name, type: binding.TF_ATTR_TYPE, value: binding.TF_INT32 });
  const temporaries: number[] = [];
  const run = (name: string, ids: number[], extra: OpAttr[] = []): number => {
    const id = binding.executeOp(name, [float, ...extra], ids, 1)[0].id;
    temporaries.push(id);
    return id;
  };
  const scalar = (value: number): number => {
    const id = binding.createTensor([], binding.TF_FLOAT, Float32Array.of(value));
    temporaries.push(id);
    return id;
  };
  try {
    const minusOne = constantHandle(b, 'shape:-1', [1], Int32Array.of(-1));
    const axis = constantHandle(b, 'axis:0', [], Int32Array.of(0));
    const sizes = vars.map((v) => v.shape.reduce((n, d) => n * d, 1));
    const splits = constantHandle(b, `splits:${sizes.join(',')}`, [count], Int32Array.from(sizes));
    const flatten = (ids: number[]) =>
      run(
        'ConcatV2',
        [...ids.map((id) => run('Reshape', [id, minusOne], [int32('Tshape')])), axis],
        [{ name: 'N', type: binding.TF_ATTR_INT, value: count }, int32('Tidx')],
      );
    const g = flatten(gradIds);
    const m1 = run('AddV2', [run('Mul', [m, scalar(a.beta1)]), run('Mul', [g, scalar(1 - a.beta1)])]);
    const s1 = run('AddV2', [
      run('Mul', [s, scalar(a.beta2)]),
      run('Mul', [run('Square', [g]), scalar(1 - a.beta2)]),
    ]);
    let update = run('RealDiv', [
      run('Mul', [m1, scalar(a.learningRate / (1 - a.beta1 ** a.step))]),
      run('AddV2', [run('Sqrt', [run('Mul', [s1, scalar(1 / (1 - a.beta2 ** a.step))])]), scalar(a.epsilon)]),
    ]);
    if (decayMask !== undefined) {
      const decay = run('Mul', [
        run('Mul', [flatten(varIds), decayMask]),
        scalar(a.learningRate * a.weightDecay),
      ]);
      update = run('AddV2', [update, decay]);
    }
    const pieces = binding
      .executeOp(
        'SplitV',
        [float, int32('Tlen'), { name: 'num_split', type: binding.TF_ATTR_INT, value: count }],
        [update, splits, axis],
        count,
      )
      .map((meta) => meta.id);
    temporaries.push(...pieces);
    const outputs = vars.map((v, i) => {
      const shape = constantHandle(
        b,
        `shape:${v.shape.join(',')}`,
        [v.shape.length],
        Int32Array.from(v.shape),
      );
      const delta = run('Reshape', [pieces[i], shape], [int32('Tshape')]);
      return b.createOutputTensor(binding.executeOp('Sub', [float], [varIds[i], delta], 1)[0]);
    });
    // m1 and s1 become outputs: not temporaries.
    for (const kept of [m1, s1]) temporaries.splice(temporaries.indexOf(kept), 1);
    const mOut = b.createOutputTensor({
      id: m1,
      shape: [sizes.reduce((x, y) => x + y, 0)],
      dtype: binding.TF_FLOAT,
    });
    const sOut = b.createOutputTensor({ id: s1, shape: mOut.shape, dtype: binding.TF_FLOAT });
    return [...outputs, mOut, sOut];
  } finally {
    for (const id of temporaries) binding.deleteTensor(id);
  }
};

/** Kernels that replace tfjs-node's own (the convolution gradients fail with explicit padding). */
const REPLACED: Record<string, KernelFunc> = {
  Identity: identityByReference,
  Conv2D: conv2D,
  DepthwiseConv2dNative: depthwiseConv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
};

const replaced = new Set<string>();

/** Registers the convolution-gradient fixes and the training BatchNorm kernels for the `tensorflow` backend. */
export function registerTensorflowTrainingKernels(options: { batchNorm?: boolean } = {}): void {
  for (const [kernelName, kernelFunc] of Object.entries(REPLACED)) {
    if (replaced.has(kernelName)) continue;
    if (tf.getKernel(kernelName, TENSORFLOW_BACKEND)) tf.unregisterKernel(kernelName, TENSORFLOW_BACKEND);
    tf.registerKernel({ kernelName, backendName: TENSORFLOW_BACKEND, kernelFunc });
    replaced.add(kernelName);
  }
  if (!tf.getKernel(FLAT_ADAM_UPDATE, TENSORFLOW_BACKEND)) {
    tf.registerKernel({
      kernelName: FLAT_ADAM_UPDATE,
      backendName: TENSORFLOW_BACKEND,
      kernelFunc: flatAdamUpdate,
    });
  }
  if (!tf.getKernel(RELU_GRAD, TENSORFLOW_BACKEND)) {
    tf.registerKernel({ kernelName: RELU_GRAD, backendName: TENSORFLOW_BACKEND, kernelFunc: reluGrad });
  }
  if (options.batchNorm === false) return;
  if (!tf.getKernel(TRAINING_BATCH_NORM, TENSORFLOW_BACKEND)) {
    tf.registerKernel({
      kernelName: TRAINING_BATCH_NORM,
      backendName: TENSORFLOW_BACKEND,
      kernelFunc: trainingBatchNorm,
    });
  }
  if (!tf.getKernel(TRAINING_BATCH_NORM_GRAD, TENSORFLOW_BACKEND)) {
    tf.registerKernel({
      kernelName: TRAINING_BATCH_NORM_GRAD,
      backendName: TENSORFLOW_BACKEND,
      kernelFunc: trainingBatchNormGrad,
    });
  }
}

/** Removes the training BatchNorm kernels again (the composed path then runs): for A/B measurements. */
export function unregisterTensorflowBatchNormKernels(): void {
  for (const name of [TRAINING_BATCH_NORM, TRAINING_BATCH_NORM_GRAD]) {
    if (tf.getKernel(name, TENSORFLOW_BACKEND)) tf.unregisterKernel(name, TENSORFLOW_BACKEND);
  }
}
