import {
  Architecture,
  BLOCK_TYPES,
  BlockSignature,
  BlockType,
  MacroConfig,
  architectureSignatures,
  assertValidArchitecture,
  blockFits,
  headSignature,
  layerSignature,
  layoutLayers,
  signatureKey,
  stemSignature,
} from '@edgenas/search-space';
import { Calibration, applyCalibration, calibratedContribution } from './calibration';
import { ArchitectureFeatures, opFamily, signatureFeatures } from './features';
import { LatencyLut, LutEntry, lutEntry } from './lut';
import { median } from './stats';

/** Relative standard deviation assumed for an entry estimated from a ms-per-MAC rate. */
export const ESTIMATE_REL_SIGMA = 0.3;
/**
 * Relative standard deviation of an uncalibrated sum: the design's experiment saw raw sums miss by tens of
 * percent, overhead-corrected sums by less; 15 % is an honest guess until a calibration exists.
 */
export const UNCALIBRATED_REL_SIGMA = 0.15;

/** Thrown when the LUT lacks entries a prediction needs; names every missing key. */
export class MissingSignaturesError extends Error {
  override readonly name = 'MissingSignaturesError';
  readonly keys: readonly string[];
  constructor(readonly missing: readonly BlockSignature[]) {
    const keys = missing.map(signatureKey);
    super(`latency LUT lacks ${keys.length} signature(s): ${keys.join(', ')}`);
    this.keys = keys;
  }
}

export interface BreakdownItem {
  /** Searchable layer index, or 'stem' / 'head'. */
  readonly layer: number | 'stem' | 'head';
  readonly block: BlockType | 'stem' | 'head';
  /** LUT key; null for skip layers (free). */
  readonly key: string | null;
  /** Contribution to the overhead-corrected sum: estimate − isolated overhead (≥ 0). */
  readonly ms: number;
  readonly estimated: boolean;
}

export interface LatencyPrediction {
  /** Calibrated latency when a calibration is given, else the overhead-corrected sum. */
  readonly latencyMs: number;
  /** One standard deviation. */
  readonly uncertaintyMs: number;
  /** Σ isolated-block estimates, overheads included (the raw LUT sum). */
  readonly lutSumMs: number;
  /** Σ breakdown ms + one network overhead. */
  readonly correctedSumMs: number;
  readonly networkOverheadMs: number;
  readonly breakdown: readonly BreakdownItem[];
  readonly calibrated: boolean;
  /** Keys whose cost was estimated from a ms-per-MAC rate (only with `allowEstimates`). */
  readonly estimated: readonly string[];
  readonly features: ArchitectureFeatures;
}

export interface PredictOptions {
  /** Estimate missing entries from MACs at the ms-per-MAC rate of measured entries of the same op family. */
  readonly allowEstimates?: boolean;
}

interface Priced {
  /** Estimate minus isolated overhead, ≥ 0. */
  readonly ms: number;
  /** Raw isolated estimate (overhead included). */
  readonly rawMs: number;
  readonly overheadMs: number;
  readonly spreadMs: number;
  readonly estimated: boolean;
}

function corrected(entry: LutEntry): number {
  return Math.max(0, entry.estimateMs - entry.overheadMs);
}

/** Median corrected-ms-per-MAC of LUT entries: same op if any, else same family, else any non-empty entry. */
function msPerMac(lut: LatencyLut, sig: BlockSignature): number | undefined {
  const entries = Object.values(lut).filter((e) => signatureFeatures(e.signature).macs > 0);
  const rate = (es: readonly LutEntry[]): number | undefined =>
    es.length === 0 ? undefined : median(es.map((e) => corrected(e) / signatureFeatures(e.signature).macs));
  return (
    rate(entries.filter((e) => e.signature.op === sig.op)) ??
    rate(entries.filter((e) => opFamily(e.signature) === opFamily(sig))) ??
    rate(entries)
  );
}

function price(lut: LatencyLut, sig: BlockSignature, allowEstimates: boolean): Priced | undefined {
  const entry = lutEntry(lut, signatureKey(sig));
  if (entry) {
    return {
      ms: corrected(entry),
      rawMs: entry.estimateMs,
      overheadMs: entry.overheadMs,
      spreadMs: entry.spreadMs,
      estimated: false,
    };
  }
  if (!allowEstimates) return undefined;
  const rate = msPerMac(lut, sig);
  if (rate === undefined) return undefined;
  const ms = rate * signatureFeatures(sig).macs;
  return { ms, rawMs: ms, overheadMs: 0, spreadMs: ESTIMATE_REL_SIGMA * ms, estimated: true };
}

/**
 * Latency of an architecture on the LUT's device profile.
 *
 * An isolated block's measurement includes per-run overhead (binding, input/output copies) that a whole
 * network pays once, so the sum is Σ (estimate − overhead) over stem, blocks and head plus one network
 * overhead — taken as the stem entry's overhead, the model whose input binding matches the network's.
 * A calibration, when given, maps the features of this sum to end-to-end latency.
 * Missing entries throw `MissingSignaturesError` naming all of them, unless `allowEstimates`; an architecture
 * that does not fit the config throws `ArchitectureError` (layer and rule).
 */
export function predictLatency(
  arch: Architecture,
  config: MacroConfig,
  lut: LatencyLut,
  calibration?: Calibration,
  opts: PredictOptions = {},
): LatencyPrediction {
  const allowEstimates = opts.allowEstimates ?? false;
  assertValidArchitecture(arch, config);
  const sigs = architectureSignatures(arch, config);
  const missing = new Map<string, BlockSignature>();
  const breakdown: BreakdownItem[] = [];
  const estimated = new Set<string>();
  let lutSumMs = 0;
  let sumMs = 0;
  let blocks = 0;
  let macs = 0;
  let activationBytes = 0;
  let lutVariance = 0;
  let estimateVariance = 0;
  let networkOverheadMs = 0;

  const add = (layer: BreakdownItem['layer'], block: BreakdownItem['block'], sig: BlockSignature): void => {
    const key = signatureKey(sig);
    const priced = price(lut, sig, allowEstimates);
    if (!priced) {
      missing.set(key, sig);
      return;
    }
    const f = signatureFeatures(sig);
    breakdown.push({ layer, block, key, ms: priced.ms, estimated: priced.estimated });
    lutSumMs += priced.rawMs;
    sumMs += priced.ms;
    macs += f.macs;
    activationBytes += f.activationBytes;
    if (priced.estimated) {
      estimated.add(key);
      estimateVariance += priced.spreadMs ** 2;
    } else lutVariance += priced.spreadMs ** 2;
    if (layer === 'stem') networkOverheadMs = priced.overheadMs;
  };

  add('stem', 'stem', sigs.stem);
  sigs.layers.forEach((sig, i) => {
    const block = arch.blocks[i];
    if (!sig) {
      breakdown.push({ layer: i, block, key: null, ms: 0, estimated: false });
      return;
    }
    blocks++;
    add(i, block, sig);
  });
  add('head', 'head', sigs.head);
  if (missing.size > 0) throw new MissingSignaturesError([...missing.values()]);

  const correctedSumMs = sumMs + networkOverheadMs;
  const features: ArchitectureFeatures = {
    lutSumMs,
    correctedSumMs,
    networkOverheadMs,
    blocks,
    macs,
    activationBytes,
  };
  let latencyMs: number;
  let uncertaintyMs: number;
  if (calibration) {
    const c = applyCalibration(calibration, features);
    latencyMs = c.latencyMs;
    // the calibration residual already carries the LUT noise; estimates add their own
    uncertaintyMs = Math.sqrt(c.uncertaintyMs ** 2 + estimateVariance);
  } else {
    latencyMs = correctedSumMs;
    uncertaintyMs = Math.sqrt(lutVariance + estimateVariance + (UNCALIBRATED_REL_SIGMA * latencyMs) ** 2);
  }
  return {
    latencyMs,
    uncertaintyMs,
    lutSumMs,
    correctedSumMs,
    networkOverheadMs,
    breakdown,
    calibrated: calibration !== undefined,
    estimated: [...estimated],
    features,
  };
}

export interface FastestAchievable {
  readonly latencyMs: number;
  readonly architecture: Architecture;
  /** Block choices that could not be priced (absent from the LUT) and so were not considered. */
  readonly unpriced: readonly string[];
}

/**
 * The lowest latency any architecture of the space can reach on this LUT: per layer the cheapest valid block
 * (skip where allowed is free). Layers are independent and every calibration feature is a per-layer sum, so
 * minimising each layer's calibrated contribution minimises the whole. Choices missing from the LUT are
 * skipped and listed in `unpriced`; a layer (or stem/head) with no priced choice throws
 * `MissingSignaturesError` naming what is missing there.
 */
export function fastestAchievableLatency(
  config: MacroConfig,
  lut: LatencyLut,
  calibration?: Calibration,
  blockTypes: readonly BlockType[] = BLOCK_TYPES,
): FastestAchievable {
  const unpriced = new Set<string>();
  const missing: BlockSignature[] = [];
  for (const sig of [stemSignature(config), headSignature(config)]) {
    if (!lutEntry(lut, signatureKey(sig))) missing.push(sig);
  }
  const choice: BlockType[] = [];
  for (const layer of layoutLayers([], config)) {
    let best: { block: BlockType; cost: number } | undefined;
    const layerMissing: BlockSignature[] = [];
    for (const block of blockTypes) {
      if (!blockFits(block, layer)) continue;
      let cost: number;
      if (block === 'skip') cost = 0;
      else {
        const sig = layerSignature({ ...layer, block }) as BlockSignature;
        const entry = lutEntry(lut, signatureKey(sig));
        if (!entry) {
          layerMissing.push(sig);
          continue;
        }
        const f = signatureFeatures(sig);
        cost = calibratedContribution(calibration, { ms: corrected(entry), blocks: 1, ...f });
      }
      if (!best || cost < best.cost) best = { block, cost };
    }
    if (!best) missing.push(...layerMissing);
    else layerMissing.forEach((s) => unpriced.add(signatureKey(s)));
    choice.push(best ? best.block : 'skip');
  }
  if (missing.length > 0) throw new MissingSignaturesError(missing);
  const architecture: Architecture = { blocks: choice };
  const prediction = predictLatency(architecture, config, lut, calibration);
  return { latencyMs: prediction.latencyMs, architecture, unpriced: [...unpriced] };
}
