import {
  Architecture,
  BlockSignature,
  BlockType,
  MacroConfig,
  architectureId,
  createRng,
  fnv1a64Hex,
  layerSignature,
  layoutLayers,
  signatureKey,
  validChoicesPerLayer,
} from '@edgenas/search-space';
import { LatencyLut, lutEntry } from './lut';
import { MissingSignaturesError, predictLatency } from './predict';

/** Architectures in a device's calibration set (measured end to end once its LUT is complete). */
export const CALIBRATION_SET_SIZE = 20;
/** Members of the set re-measured to follow the device's drift. */
export const REFERENCE_NETWORKS = 5;
export const CALIBRATION_SET_SEED = 1;
/** Candidates drawn per set member; the set is picked from them by predicted latency. */
const POOL_PER_MEMBER = 25;
/** Spread of each layer's pick around the candidate's tilt (fraction of the layer's cost order). */
const TILT_JITTER = 0.6;

export interface CalibrationSetMember {
  readonly architecture: Architecture;
  /** Uncalibrated prediction (overhead-corrected LUT sum) the member was stratified by, ms. */
  readonly predictedMs: number;
}

/** A 32-bit seed from the space name and the set seed: each space (geometry) gets its own set. */
function spaceSeed(config: MacroConfig, seed: number): number {
  return parseInt(fnv1a64Hex(encodeURIComponent(`${config.name}#${seed}`)).slice(0, 8), 16);
}

/**
 * The calibration set of a space on a LUT: `size` architectures spread evenly over the predicted-latency range
 * (uncalibrated LUT sum), seeded and deterministic for the same (space, LUT, seed).
 *
 * A uniform draw piles its sums in the middle of the range (22 independent layers), so candidates are drawn
 * with a tilt: per candidate a position t in [0, 1], and per layer the block at about t along that layer's
 * choices ordered by LUT cost (jittered), from the cheapest networks to the costliest. The range between the
 * fastest and slowest candidate is cut into `size` equal bins; each bin takes the unused candidate nearest its
 * centre. Returned in ascending predicted latency. Throws `MissingSignaturesError` when the LUT cannot price
 * the space.
 */
export function chooseCalibrationSet(
  config: MacroConfig,
  lut: LatencyLut,
  opts: { readonly size?: number; readonly seed?: number } = {},
): CalibrationSetMember[] {
  const size = opts.size ?? CALIBRATION_SET_SIZE;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`size must be a positive integer, got ${size}`);
  const rng = createRng(spaceSeed(config, opts.seed ?? CALIBRATION_SET_SEED));
  const layers = layoutLayers([], config);
  const missing: BlockSignature[] = [];
  const ordered: BlockType[][] = validChoicesPerLayer(config).map((choices, i) => {
    const cost = (block: BlockType): number => {
      const sig = layerSignature({ ...layers[i], block });
      if (!sig) return 0;
      const entry = lutEntry(lut, signatureKey(sig));
      if (!entry) {
        missing.push(sig);
        return 0;
      }
      return Math.max(0, entry.estimateMs - entry.overheadMs);
    };
    return choices
      .map((block) => ({ block, ms: cost(block) }))
      .sort((a, b) => a.ms - b.ms || a.block.localeCompare(b.block))
      .map((c) => c.block);
  });
  if (missing.length > 0) throw new MissingSignaturesError(missing);

  const poolSize = size * POOL_PER_MEMBER;
  const pool: CalibrationSetMember[] = [];
  const seen = new Set<string>();
  for (let j = 0; j < poolSize; j++) {
    const tilt = (j + 0.5) / poolSize;
    const blocks = ordered.map((choices) => {
      const q = Math.min(Math.max(tilt + (rng.next() - 0.5) * TILT_JITTER, 0), 1 - 1e-9);
      return choices[Math.floor(q * choices.length)];
    });
    const architecture: Architecture = { blocks };
    const id = architectureId(architecture);
    if (seen.has(id)) continue;
    seen.add(id);
    pool.push({ architecture, predictedMs: predictLatency(architecture, config, lut).correctedSumMs });
  }

  const lo = Math.min(...pool.map((m) => m.predictedMs));
  const hi = Math.max(...pool.map((m) => m.predictedMs));
  const used = new Set<number>();
  const chosen: CalibrationSetMember[] = [];
  for (let b = 0; b < Math.min(size, pool.length); b++) {
    const target = lo + ((b + 0.5) / size) * (hi - lo);
    let best = -1;
    for (let k = 0; k < pool.length; k++) {
      if (used.has(k)) continue;
      if (best < 0 || Math.abs(pool[k].predictedMs - target) < Math.abs(pool[best].predictedMs - target))
        best = k;
    }
    used.add(best);
    chosen.push(pool[best]);
  }
  return chosen.sort((a, b) => a.predictedMs - b.predictedMs);
}

/**
 * The reference networks among measured set members: `count` of them evenly spaced in measured latency (the
 * fastest and the slowest included), ties by text; all of them when there are no more than `count`.
 */
export function chooseReferenceNetworks<
  T extends { readonly architecture: string; readonly measuredMs: number },
>(members: readonly T[], count = REFERENCE_NETWORKS): T[] {
  const sorted = [...members].sort(
    (a, b) => a.measuredMs - b.measuredMs || a.architecture.localeCompare(b.architecture),
  );
  if (sorted.length <= count) return sorted;
  if (count === 1) return [sorted[Math.floor((sorted.length - 1) / 2)]];
  return Array.from({ length: count }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (count - 1))]);
}
