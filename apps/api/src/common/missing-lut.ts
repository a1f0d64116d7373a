import { MissingSignaturesError } from '@edgenas/latency-predictor';
import { BlockSignature, baseSpaceName, signatureKey } from '@edgenas/search-space';
import { ApiError } from './api-error';

/** Keys listed in a 409 body; the count is always complete. */
const MAX_KEYS_LISTED = 50;

/**
 * 409: the device's LUT cannot price this geometry yet. Names the count, the first keys and the fix (run a
 * device agent for that device and space).
 */
export function missingLutError(
  deviceId: string,
  space: string,
  missing: readonly BlockSignature[],
  field = 'deviceId',
): ApiError {
  const keys = missing.map(signatureKey);
  const fix = `run a device agent for device ${deviceId} covering this space (edgenas-agent run --space ${baseSpaceName(space)}${space.includes('@') ? ' --input … --classes …' : ''}) or wait for it to upload`;
  const reason = `the latency LUT of device ${deviceId} lacks ${keys.length} block signature(s) for ${space}; ${fix}`;
  return new ApiError(409, reason, [{ field, reason }], {
    deviceId,
    space,
    missingCount: keys.length,
    missing: keys.slice(0, MAX_KEYS_LISTED),
  });
}

export function isMissingSignatures(err: unknown): err is MissingSignaturesError {
  return err instanceof MissingSignaturesError;
}
