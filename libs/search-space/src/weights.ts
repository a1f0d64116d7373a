/**
 * Network weights: plain Float32Arrays keyed by parameter name, in the graph's canonical layouts (conv OIHW,
 * fc [cout, cin]). Seeded initialisation and the single place that converts layouts for tfjs.
 */
import { NetworkGraph, ParamSpec } from './graph';
import { mulberry32 } from './rng';

export type NetworkWeights = Record<string, Float32Array>;

export interface InitWeightsOptions {
  /**
   * Random BatchNorm parameters and statistics (gamma ∈ [0.5, 1.5], beta and mean ~ N(0, 0.1²),
   * var ∈ [0.5, 1.5]) instead of the identity (1, 0, 0, 1), so BN folding is exercised.
   */
  readonly randomBatchNorm?: boolean;
}

// Weight initialisation draws millions of numbers. Math's functions are bound once here because global lookups
// in a hot loop are ~30× slower inside vm sandboxes (jest), which made initialising fbnet-224 take ~20 s.
const { sqrt, log, cos, PI } = Math;

/** Seeded uniform [0, 1) (the `createRng` stream) and standard normal (Box–Muller) draws. */
function weightRandom(seed: number): { uniform: () => number; normal: () => number } {
  const { nextUint32 } = mulberry32(seed);
  const uniform = () => nextUint32() / 4294967296;
  // 1 − u keeps the log argument in (0, 1].
  const normal = () => sqrt(-2 * log(1 - uniform())) * cos(2 * PI * uniform());
  return { uniform, normal };
}

export function paramSize(spec: Pick<ParamSpec, 'shape'>): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

/** He-normal conv weights (std √(2/fanIn)), fc weights with std √(1/cin), zero bias, BN as configured. */
export function initWeights(
  graph: NetworkGraph,
  seed: number,
  opts: InitWeightsOptions = {},
): NetworkWeights {
  const { uniform, normal } = weightRandom(seed);
  const weights: NetworkWeights = {};
  for (const p of graph.params) {
    const data = new Float32Array(paramSize(p));
    const fill = (f: () => number) => {
      for (let i = 0; i < data.length; i++) data[i] = f();
    };
    const rnd = opts.randomBatchNorm === true;
    switch (p.role) {
      case 'conv_weight':
        fill(() => normal() * sqrt(2 / p.fanIn));
        break;
      case 'fc_weight':
        fill(() => normal() * sqrt(1 / p.fanIn));
        break;
      case 'fc_bias':
        break;
      case 'bn_gamma':
        fill(rnd ? () => 0.5 + uniform() : () => 1);
        break;
      case 'bn_beta':
      case 'bn_mean':
        if (rnd) fill(() => 0.1 * normal());
        break;
      case 'bn_var':
        fill(rnd ? () => 0.5 + uniform() : () => 1);
        break;
    }
    weights[p.name] = data;
  }
  return weights;
}

/** Throws naming the first parameter that is missing or has the wrong size. */
export function checkWeights(graph: NetworkGraph, weights: NetworkWeights): void {
  for (const p of graph.params) {
    const w = weights[p.name];
    if (!w) throw new Error(`weights: missing parameter "${p.name}"`);
    if (w.length !== paramSize(p)) {
      throw new Error(
        `weights: "${p.name}" has ${w.length} values, expected ${paramSize(p)} (${p.shape.join('×')})`,
      );
    }
  }
}

/**
 * Layout conversions between the canonical layouts and tfjs's: conv OIHW [o, i, h, w] ↔ HWIO [h, w, i, o]
 * (a depthwise filter [c, 1, k, k] becomes [k, k, c, 1] for tf.depthwiseConv2d, handled by the caller's
 * reshape), and fc [cout, cin] ↔ [cin, cout].
 */
export function oihwToHwio(data: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, h, w] = shape;
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let hh = 0; hh < h; hh++)
        for (let ww = 0; ww < w; ww++)
          out[((hh * w + ww) * i + ii) * o + oo] = data[((oo * i + ii) * h + hh) * w + ww];
  return out;
}

/** Inverse of `oihwToHwio`; `shape` is the OIHW shape. */
export function hwioToOihw(data: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, h, w] = shape;
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let hh = 0; hh < h; hh++)
        for (let ww = 0; ww < w; ww++)
          out[((oo * i + ii) * h + hh) * w + ww] = data[((hh * w + ww) * i + ii) * o + oo];
  return out;
}

/** [rows, cols] → [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
