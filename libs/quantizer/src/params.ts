/**
 * Quantization parameters, ONNX conventions (QuantizeLinear: q = saturate(round(x / scale) + zero_point), round
 * half to even; DequantizeLinear: x = (q − zero_point) · scale):
 * - activations: uint8, per tensor, asymmetric; the range is widened to include 0 so that 0 (padding, ReLU's
 *   floor) is exact.
 * - weights: int8, per output channel, symmetric (zero point 0) over [−m, m]: scale_c = max|w_c| / m, with
 *   m = 127 (full range) or 64 (reduced range, see `weightQuantMax`).
 * - bias: int32, zero point 0, scale_c = s_input · s_weight,c (what QLinearConv/QGemm add to the accumulator).
 */
export const UINT8_MAX = 255;
/** Largest |q| of full-range int8 weights. */
export const INT8_WEIGHT_MAX = 127;
/**
 * Largest |q| of reduced-range ("7-bit") weights. x86 CPUs without VNNI (AVX2, AVX-512F) multiply uint8
 * activations by int8 weights with VPMADDUBSW, which adds pairs of products into an int16 and saturates at
 * 32767: 2·255·127 = 64770 overflows, 2·255·64 = 32640 does not. ONNX Runtime's own quantizer calls this
 * reduce_range.
 */
export const INT8_WEIGHT_MAX_REDUCED = 64;

export function weightQuantMax(reduceRange: boolean): number {
  return reduceRange ? INT8_WEIGHT_MAX_REDUCED : INT8_WEIGHT_MAX;
}
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** uint8 per-tensor parameters of an activation. */
export interface ActivationParams {
  readonly scale: number;
  readonly zeroPoint: number;
}

/** A closed range of real values. */
export interface ValueRange {
  readonly min: number;
  readonly max: number;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Round half to even, as ONNX QuantizeLinear does. */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * uint8 parameters covering [min, max] ∪ {0}: scale = (hi − lo) / 255, zero point = round(−lo / scale). A range
 * of only 0 gets scale 1 (every value quantizes to the zero point).
 */
export function activationParams(range: ValueRange): ActivationParams {
  const { min, max } = range;
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new Error(`activation range [${min}, ${max}] must be finite with min ≤ max`);
  }
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  if (hi === lo) return { scale: 1, zeroPoint: 0 };
  // stored as float32 in the model: the zero point is computed from the stored scale
  const scale = Math.fround((hi - lo) / UINT8_MAX);
  return { scale, zeroPoint: clamp(Math.round(-lo / scale), 0, UINT8_MAX) };
}

/** Per-output-channel int8 weights and their scales. */
export interface ChannelQuantizedWeights {
  readonly values: Int8Array;
  readonly scales: Float32Array;
}

/**
 * Symmetric per-channel quantization of a weight whose first axis is the output channel (conv OIHW, Gemm B with
 * transB = 1): scale_c = max|w_c| / qMax (1 for an all-zero channel), q = clamp(round(w / scale_c), −qMax, qMax).
 */
export function quantizeWeightsPerChannel(
  weight: Float32Array,
  channels: number,
  qMax: number = INT8_WEIGHT_MAX,
): ChannelQuantizedWeights {
  if (!Number.isInteger(qMax) || qMax < 1 || qMax > INT8_WEIGHT_MAX) {
    throw new Error(`weight range ±${qMax} is not within int8`);
  }
  if (channels < 1 || weight.length % channels !== 0) {
    throw new Error(`${weight.length} weights do not split into ${channels} output channels`);
  }
  const perChannel = weight.length / channels;
  const values = new Int8Array(weight.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let maxAbs = 0;
    for (let j = 0; j < perChannel; j++) maxAbs = Math.max(maxAbs, Math.abs(weight[c * perChannel + j]));
    scales[c] = maxAbs > 0 ? maxAbs / qMax : 1;
    const s = scales[c];
    for (let j = 0; j < perChannel; j++) {
      const i = c * perChannel + j;
      values[i] = clamp(roundHalfToEven(weight[i] / s), -qMax, qMax);
    }
  }
  return { values, scales };
}

/** int32 bias with scale_c = s_input · s_weight,c (the accumulator's scale), zero point 0. */
export function quantizeBias(
  bias: Float32Array,
  inputScale: number,
  weightScales: Float32Array,
): { values: Int32Array; scales: Float32Array } {
  if (bias.length !== weightScales.length) {
    throw new Error(`bias of ${bias.length} values for ${weightScales.length} weight channels`);
  }
  const scales = new Float32Array(bias.length);
  const values = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    scales[c] = inputScale * weightScales[c];
    values[c] = clamp(roundHalfToEven(bias[c] / scales[c]), INT32_MIN, INT32_MAX);
  }
  return { values, scales };
}
