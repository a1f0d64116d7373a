import { DevicePrecision } from '@edgenas/contracts';
import { quantizeModel } from '@edgenas/quantizer';
import { createRng } from '@edgenas/search-space';
import { BenchmarkModel } from './models';

/**
 * Inputs an INT8 model's activation ranges are calibrated on (the last one is held out by the quantizer). Random
 * values suffice: integer kernels cost the same whatever the values, and the ranges only set the scales.
 */
export const INT8_CALIBRATION_INPUTS = 4;
const INT8_CALIBRATION_SEED = 1;

/** Seeded uniform [−1, 1) inputs of the model's input shape (batch dimension dropped), one array. */
function calibrationInputs(inputShape: readonly number[]): Float32Array {
  const perInput = inputShape.slice(1).reduce((a, b) => a * b, 1);
  const rng = createRng(INT8_CALIBRATION_SEED);
  return Float32Array.from({ length: INT8_CALIBRATION_INPUTS * perInput }, () => rng.next() * 2 - 1);
}

/**
 * The model as a device of this precision deploys it: fp32 as built; int8 quantized to static QDQ (weights int8
 * per output channel, symmetric; activations uint8 per tensor, min/max over seeded random inputs), which ONNX
 * Runtime fuses into integer kernels. The one place the precision changes what is timed.
 */
export async function modelAtPrecision(
  model: BenchmarkModel,
  precision: DevicePrecision,
): Promise<BenchmarkModel> {
  if (precision === 'fp32') return model;
  const quantized = await quantizeModel(model.model, calibrationInputs(model.inputShape), {
    method: 'minmax',
  });
  return { ...model, label: `${model.label} int8`, model: quantized.int8Onnx };
}
