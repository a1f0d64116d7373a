/**
 * NetworkGraph + weights → a functional tfjs network (tf ops over variables, NHWC), numerically the same
 * network as the ONNX model built from the same graph and weights.
 *
 * - Padding is explicit and symmetric ((k−1)/2 on every side), as in ONNX; tfjs's 'same' pads asymmetrically
 *   at stride 2.
 * - BatchNorm in inference goes through tf.batchNorm (the FusedBatchNorm kernel). In training mode it
 *   normalises with the batch's moments and updates the moving statistics with a momentum; its gradient is the
 *   closed-form BN gradient (`trainingBatchNorm`): autodiff through tf.moments and FusedBatchNorm's gradient
 *   took a large share of a wasm training step. A backend may register training BN as one kernel
 *   (`TRAINING_BATCH_NORM`), which is then used instead.
 * - Grouped convs: split input channels, one conv per group, concat.
 * - Layouts: conv filters HWIO (depthwise [k, k, c, 1]), fc [cin, cout]; converted from the canonical OIHW /
 *   [cout, cin] by the functions in weights.ts, here only.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConvOp, DepthwiseOp, GraphOp, NetworkGraph, ParamSpec } from '../graph';
import { NetworkWeights, checkWeights, hwioToOihw, oihwToHwio, transpose2d } from '../weights';

export interface TfjsNetworkOptions {
  /** Prefix of the tfjs variable names (they must be unique in the engine); a counter is appended. */
  readonly name?: string;
  /** Default BatchNorm momentum of `apply` in training mode (moving = m·moving + (1 − m)·batch). */
  readonly bnMomentum?: number;
}

export interface ApplyOptions {
  readonly training: boolean;
  /** Overrides the network's BN momentum for this call (0 = replace the moving statistics by the batch's). */
  readonly bnMomentum?: number;
  /**
   * Training mode only: false leaves BN's moving statistics as they are (for a caller that recalibrates them
   * before evaluating; saves six small ops per BN and step). Default true.
   */
  readonly updateStatistics?: boolean;
}

export interface TfjsNetwork {
  readonly graph: NetworkGraph;
  /** Trainable variables (conv and fc weights, fc bias, BN gamma and beta). */
  readonly variables: tf.Variable[];
  /** Logits [N, classes] of a classifier graph for an NHWC batch. */
  apply(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor2D;
  /** The graph's output for any graph (feature maps come back NHWC). */
  forward(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor;
  /** Current weights in the canonical layouts (including BN moving statistics). */
  exportWeights(): NetworkWeights;
  dispose(): void;
}

export const DEFAULT_BN_MOMENTUM = 0.9;

let networkCounter = 0;

type Padding = [[number, number], [number, number], [number, number], [number, number]];

function symmetricPadding(kernel: number): Padding {
  const p = (kernel - 1) / 2;
  return [
    [0, 0],
    [p, p],
    [p, p],
    [0, 0],
  ];
}

/** The tfjs shape of a parameter (conv HWIO, depthwise [k, k, c, 1], fc [cin, cout]). */
function tfjsShape(spec: ParamSpec, depthwise: boolean): number[] {
  switch (spec.role) {
    case 'conv_weight': {
      const [o, i, h, w] = spec.shape;
      // A depthwise filter [c, 1, k, k] becomes [k, k, 1, c] in HWIO, the same memory as [k, k, c, 1].
      return depthwise ? [h, w, o, 1] : [h, w, i, o];
    }
    case 'fc_weight':
      return [spec.shape[1], spec.shape[0]];
    default:
      return [...spec.shape];
  }
}

/** Canonical layout → tfjs layout, as plain data (the same element order a tfjs variable of it holds). */
export function toTfjsLayout(spec: ParamSpec, data: Float32Array): Float32Array {
  switch (spec.role) {
    case 'conv_weight':
      return oihwToHwio(data, spec.shape);
    case 'fc_weight': {
      const [cout, cin] = spec.shape;
      return transpose2d(data, cout, cin);
    }
    default:
      return data;
  }
}

/** tfjs layout → canonical layout. */
export function fromTfjsLayout(spec: ParamSpec, data: Float32Array): Float32Array {
  switch (spec.role) {
    case 'conv_weight':
      return hwioToOihw(data, spec.shape);
    case 'fc_weight': {
      const [cout, cin] = spec.shape;
      return transpose2d(data, cin, cout);
    }
    default:
      return data.slice();
  }
}

/**
 * Kernel a backend may register for training-mode BatchNorm over all axes but the last:
 * inputs { x, scale, offset }, attrs { varianceEpsilon } → [y, batch mean, biased batch variance]. When the
 * active backend has it (and a gradient is registered for it), `trainingBatchNorm` runs it instead of its
 * composition of tfjs ops.
 */
export const TRAINING_BATCH_NORM = 'EdgeNasTrainingBatchNorm';
/**
 * Its gradient kernel: inputs { dy, x, scale, mean, variance }, attrs { varianceEpsilon } → [dx, dScale, dOffset]
 * (the closed form of `trainingBatchNorm`).
 */
export const TRAINING_BATCH_NORM_GRAD = 'EdgeNasTrainingBatchNormGrad';

/**
 * Training-mode BatchNorm over the N·H·W axes of an NHWC tensor: y = γ·x̂ + β with x̂ = (x − μ)·rstd, μ and the
 * (biased) variance σ² from the batch, rstd = 1/√(σ² + ε). The batch statistics go to `onBatchStatistics`
 * (inside the forward pass, outside the gradient path). The gradient is closed-form, with M = N·H·W:
 *   dβ = Σdy,  dγ = Σ(dy·x̂),  dx = γ·rstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂)),
 * the same values as autodiff through tf.moments at a fraction of the ops.
 */
export function trainingBatchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  onBatchStatistics: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void,
): tf.Tensor4D {
  if (tf.getKernel(TRAINING_BATCH_NORM, tf.getBackend())) {
    const [y, mean, variance] = tf
      .engine()
      .runKernel(TRAINING_BATCH_NORM, { x, scale: gamma, offset: beta }, { varianceEpsilon: epsilon }) as [
      tf.Tensor4D,
      tf.Tensor1D,
      tf.Tensor1D,
    ];
    onBatchStatistics(mean, variance);
    return y;
  }
  const op = tf.customGrad((xIn, gammaIn, betaIn, saveIn) => {
    const x4 = xIn as tf.Tensor4D;
    const save = saveIn as tf.GradSaveFunc;
    const { mean, variance } = tf.moments(x4, [0, 1, 2]) as { mean: tf.Tensor1D; variance: tf.Tensor1D };
    onBatchStatistics(mean, variance);
    const rstd = tf.rsqrt(tf.add(variance, epsilon));
    save([x4, mean, rstd, gammaIn as tf.Tensor1D]);
    const value = tf.batchNorm4d(x4, mean, variance, betaIn as tf.Tensor1D, gammaIn as tf.Tensor1D, epsilon);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, mu, r, g] = saved;
        const count = xs.size / g.size;
        const xhat = tf.mul(tf.sub(xs, mu), r);
        const dBeta = tf.sum(dy, [0, 1, 2]);
        const dGamma = tf.sum(tf.mul(dy, xhat), [0, 1, 2]);
        // dx = k·dy + x̂·p + q with per-channel k = γ·rstd, p = −k·dγ/M, q = −k·dβ/M (broadcast over N·H·W).
        const k = tf.mul(g, r);
        const p = tf.mul(k, tf.mul(dGamma, -1 / count));
        const q = tf.mul(k, tf.mul(dBeta, -1 / count));
        const dx = tf.add(tf.add(tf.mul(dy, k), tf.mul(xhat, p)), q);
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

export function buildTfjsNetwork(
  graph: NetworkGraph,
  weights: NetworkWeights,
  opts: TfjsNetworkOptions = {},
): TfjsNetwork {
  checkWeights(graph, weights);
  const depthwiseOps = new Set(graph.ops.filter((op) => op.kind === 'depthwise').map((op) => op.name));
  const prefix = `${opts.name ?? graph.name}#${++networkCounter}`;
  const defaultMomentum = opts.bnMomentum ?? DEFAULT_BN_MOMENTUM;
  const vars = new Map<string, tf.Variable>();
  for (const spec of graph.params) {
    const initial = tf.tensor(
      toTfjsLayout(spec, weights[spec.name]),
      tfjsShape(spec, depthwiseOps.has(spec.op)),
      'float32',
    );
    vars.set(spec.name, tf.variable(initial, spec.trainable, `${prefix}/${spec.name}`));
    initial.dispose();
  }
  const v = (name: string): tf.Variable => {
    const variable = vars.get(name);
    if (!variable) throw new Error(`tfjs network: no variable "${name}"`);
    return variable;
  };
  let disposed = false;

  function batchNorm(
    op: ConvOp | DepthwiseOp,
    x: tf.Tensor4D,
    training: boolean,
    momentum: number | undefined,
  ): tf.Tensor4D {
    const gamma = v(`${op.name}.bn.gamma`) as tf.Variable<tf.Rank.R1>;
    const beta = v(`${op.name}.bn.beta`) as tf.Variable<tf.Rank.R1>;
    const movingMean = v(`${op.name}.bn.mean`) as tf.Variable<tf.Rank.R1>;
    const movingVar = v(`${op.name}.bn.var`) as tf.Variable<tf.Rank.R1>;
    if (!training) return tf.batchNorm4d(x, movingMean, movingVar, beta, gamma, graph.bnEpsilon);
    if (momentum === undefined) return trainingBatchNorm(x, gamma, beta, graph.bnEpsilon, () => undefined);
    return trainingBatchNorm(x, gamma, beta, graph.bnEpsilon, (mean, variance) => {
      // Moving statistics are not trainable: their update does not reach the loss, so gradients ignore it.
      movingMean.assign(tf.add(tf.mul(movingMean, momentum), tf.mul(mean, 1 - momentum)));
      movingVar.assign(tf.add(tf.mul(movingVar, momentum), tf.mul(variance, 1 - momentum)));
    });
  }

  function conv(op: ConvOp, x: tf.Tensor4D): tf.Tensor4D {
    const filter = v(`${op.name}.weight`) as tf.Tensor4D;
    const pad = symmetricPadding(op.kernel);
    if (op.groups === 1) return tf.conv2d(x, filter, op.stride, pad);
    const xs = tf.split(x, op.groups, 3) as tf.Tensor4D[];
    const outPerGroup = op.cout / op.groups;
    const ys = xs.map((xg, g) => {
      const fg = tf.slice4d(filter, [0, 0, 0, g * outPerGroup], [-1, -1, -1, outPerGroup]);
      return tf.conv2d(xg, fg, op.stride, pad);
    });
    return tf.concat(ys, 3);
  }

  function shuffle(x: tf.Tensor4D, groups: number): tf.Tensor4D {
    const [n, h, w, c] = x.shape;
    const grouped = tf.reshape(x, [n, h, w, groups, c / groups]);
    return tf.reshape(tf.transpose(grouped, [0, 1, 2, 4, 3]), [n, h, w, c]);
  }

  /** `momentum` undefined: the moving statistics are not updated. */
  function run(
    op: GraphOp,
    values: Map<string, tf.Tensor>,
    training: boolean,
    momentum: number | undefined,
  ): void {
    const get = (name: string) => {
      const t = values.get(name);
      if (!t) throw new Error(`tfjs network: value "${name}" used before it is computed`);
      return t;
    };
    switch (op.kind) {
      case 'conv':
      case 'depthwise': {
        const x = get(op.input) as tf.Tensor4D;
        const y =
          op.kind === 'conv'
            ? conv(op, x)
            : tf.depthwiseConv2d(
                x,
                v(`${op.name}.weight`) as tf.Tensor4D,
                op.stride,
                symmetricPadding(op.kernel),
              );
        const normed = batchNorm(op, y, training, momentum);
        values.set(op.output, op.relu ? tf.relu(normed) : normed);
        return;
      }
      case 'shuffle':
        values.set(op.output, shuffle(get(op.input) as tf.Tensor4D, op.groups));
        return;
      case 'split': {
        const parts = tf.split(get(op.input), [...op.sizes], 3);
        op.outputs.forEach((name, i) => values.set(name, parts[i]));
        return;
      }
      case 'concat':
        values.set(op.output, tf.concat(op.inputs.map(get), 3));
        return;
      case 'add':
        values.set(op.output, tf.add(get(op.inputs[0]), get(op.inputs[1])));
        return;
      case 'gap':
        values.set(op.output, tf.mean(get(op.input), [1, 2]));
        return;
      case 'fc':
        values.set(
          op.output,
          tf.add(tf.matMul(get(op.input) as tf.Tensor2D, v(`${op.name}.weight`)), v(`${op.name}.bias`)),
        );
        return;
    }
  }

  function forward(x: tf.Tensor4D, applyOpts: ApplyOptions): tf.Tensor {
    if (disposed) throw new Error('tfjs network: used after dispose()');
    if (x.rank !== 4 || x.shape[3] !== graph.inputShape.channels) {
      throw new Error(
        `tfjs network: input must be NHWC with ${graph.inputShape.channels} channels, got [${x.shape.join(', ')}]`,
      );
    }
    const momentum =
      applyOpts.updateStatistics === false ? undefined : (applyOpts.bnMomentum ?? defaultMomentum);
    return tf.tidy(() => {
      const values = new Map<string, tf.Tensor>([[graph.input, x]]);
      for (const op of graph.ops) run(op, values, applyOpts.training, momentum);
      return values.get(graph.output) as tf.Tensor;
    });
  }

  return {
    graph,
    variables: graph.params.filter((p) => p.trainable).map((p) => v(p.name)),
    forward,
    apply(x, applyOpts) {
      if (graph.outputShape.height !== 0) throw new Error(`tfjs network: ${graph.name} is not a classifier`);
      return forward(x, applyOpts) as tf.Tensor2D;
    },
    exportWeights() {
      const out: NetworkWeights = {};
      for (const spec of graph.params)
        out[spec.name] = fromTfjsLayout(spec, v(spec.name).dataSync() as Float32Array);
      return out;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const variable of vars.values()) variable.dispose();
    },
  };
}
