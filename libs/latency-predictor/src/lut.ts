import {
  Architecture,
  BLOCK_TYPES,
  BlockSignature,
  BlockType,
  MacroConfig,
  blockFits,
  distinctSignatures,
  headSignature,
  layerSignature,
  layoutLayers,
  signatureKey,
  stemSignature,
} from '@edgenas/search-space';
import { BlockMeasurement } from './measurement';
import { MAD_TO_SIGMA, mad, median, weightedMedian } from './stats';

/**
 * Outlier rule: a row is rejected when its modified z-score |x − median| / (1.4826 · MAD) exceeds this
 * (Iglewicz & Hoaglin's 3.5), computed over the candidate rows of one signature.
 */
export const OUTLIER_Z = 3.5;
/** Outliers are only judged with at least this many candidate rows (with two, neither can be blamed). */
export const MIN_ROWS_FOR_OUTLIERS = 3;
/**
 * MAD floor as a fraction of the median, so a majority of identical values does not turn every other
 * upload into an outlier: with it the rejection band is at least ±3.5 · 1.4826 · 2 % ≈ ±10 % of the median.
 */
export const MAD_FLOOR_FRACTION = 0.02;
/** Drift-flagged rows are excluded when at least this many unflagged rows exist for the signature. */
export const MIN_CLEAN_ROWS_TO_EXCLUDE_DRIFT = 2;
/** Otherwise they are kept, at this weight in the (weighted) median. */
export const DRIFT_WEIGHT = 0.5;
/** A normal distribution's p10–p90 span in standard deviations (2 · 1.2816). */
const P10_P90_SIGMAS = 2.5631;

/** One aggregated LUT entry: the robust cost of a block signature on one device profile. */
export interface LutEntry {
  readonly key: string;
  readonly signature: BlockSignature;
  /** Weighted median of the used rows' `estimateMs` (isolated block, overhead included). */
  readonly estimateMs: number;
  /** Median of the used rows' `overheadMs` (what an isolated model pays that a network pays once). */
  readonly overheadMs: number;
  /**
   * Standard deviation of the estimate: 1.4826 · MAD across used uploads when there are ≥ 2 (at least half
   * their range when exactly 2); with a single upload, its within-run spread (p90 − p10) / 2.563.
   */
  readonly spreadMs: number;
  /** All rows seen for this signature. */
  readonly count: number;
  readonly used: number;
  /** Rejected as outliers by the MAD rule, or unusable (non-finite or non-positive estimate). */
  readonly rejected: number;
  /** Left out because they were drift-flagged while enough clean rows exist. */
  readonly driftExcluded: number;
  /** True when a drift-flagged row contributes to the estimate. */
  readonly driftFlagged: boolean;
  /** Latest `measuredAt` among all rows (ISO 8601). */
  readonly lastMeasuredAt: string;
}

/**
 * A device profile's lookup table: signature key → entry. A plain record rather than a Map so it survives
 * JSON (HTTP bodies, Temporal activity results) unchanged.
 */
export type LatencyLut = Readonly<Record<string, LutEntry>>;

export function lutEntry(lut: LatencyLut, key: string): LutEntry | undefined {
  return Object.prototype.hasOwnProperty.call(lut, key) ? lut[key] : undefined;
}

function usable(row: BlockMeasurement): boolean {
  return (
    Number.isFinite(row.estimateMs) &&
    row.estimateMs > 0 &&
    Number.isFinite(row.overheadMs) &&
    row.overheadMs >= 0
  );
}

/** Entry for one key; undefined when no row has a usable (finite, positive) estimate. */
function aggregateOne(key: string, allRows: readonly BlockMeasurement[]): LutEntry | undefined {
  const rows = allRows.filter(usable);
  if (rows.length === 0) return undefined;
  const clean = rows.filter((r) => !r.driftFlagged);
  const excludeDrift = clean.length >= MIN_CLEAN_ROWS_TO_EXCLUDE_DRIFT;
  const candidates = excludeDrift ? clean : rows;
  let used = candidates;
  if (candidates.length >= MIN_ROWS_FOR_OUTLIERS) {
    const values = candidates.map((r) => r.estimateMs);
    const center = median(values);
    const scale = MAD_TO_SIGMA * Math.max(mad(values, center), MAD_FLOOR_FRACTION * Math.abs(center));
    used = candidates.filter((r) => Math.abs(r.estimateMs - center) <= OUTLIER_Z * scale);
  }
  const weights = used.map((r) => (r.driftFlagged ? DRIFT_WEIGHT : 1));
  const estimates = used.map((r) => r.estimateMs);
  const estimateMs = weightedMedian(estimates, weights);
  let spreadMs: number;
  if (used.length >= 2) {
    const range = Math.max(...estimates) - Math.min(...estimates);
    spreadMs = Math.max(MAD_TO_SIGMA * mad(estimates), used.length === 2 ? range / 2 : 0);
  } else {
    spreadMs = Math.max(0, used[0].p90Ms - used[0].p10Ms) / P10_P90_SIGMAS;
  }
  return {
    key,
    signature: rows[0].signature,
    estimateMs,
    overheadMs: median(used.map((r) => r.overheadMs)),
    spreadMs,
    count: allRows.length,
    used: used.length,
    rejected: candidates.length - used.length + (allRows.length - rows.length),
    driftExcluded: rows.length - candidates.length,
    driftFlagged: used.some((r) => r.driftFlagged),
    lastMeasuredAt: rows.reduce((latest, r) => (r.measuredAt > latest ? r.measuredAt : latest), ''),
  };
}

/**
 * Robust per-signature aggregation of raw uploads (rows of one device profile), sorted by key. Rows with a
 * non-finite or non-positive estimate are never used; a key with only such rows gets no entry (it stays missing).
 */
export function aggregateMeasurements(rows: readonly BlockMeasurement[]): LutEntry[] {
  const byKey = new Map<string, BlockMeasurement[]>();
  for (const row of rows) {
    const key = signatureKey(row.signature);
    const list = byKey.get(key);
    if (list) list.push(row);
    else byKey.set(key, [row]);
  }
  const entries: LutEntry[] = [];
  for (const key of [...byKey.keys()].sort()) {
    const entry = aggregateOne(key, byKey.get(key) as BlockMeasurement[]);
    if (entry) entries.push(entry);
  }
  return entries;
}

export function buildLut(rows: readonly BlockMeasurement[]): LatencyLut {
  const lut: Record<string, LutEntry> = {};
  for (const entry of aggregateMeasurements(rows)) lut[entry.key] = entry;
  return lut;
}

export interface LutCoverage {
  readonly covered: number;
  readonly total: number;
  /** covered / total (1 for an empty list). */
  readonly ratio: number;
  readonly missing: BlockSignature[];
}

function dedupe(signatures: readonly BlockSignature[]): BlockSignature[] {
  const byKey = new Map<string, BlockSignature>();
  for (const sig of signatures) {
    const key = signatureKey(sig);
    if (!byKey.has(key)) byKey.set(key, sig);
  }
  return [...byKey.values()];
}

export function lutCoverage(lut: LatencyLut, signatures: readonly BlockSignature[]): LutCoverage {
  const distinct = dedupe(signatures);
  const missing = distinct.filter((sig) => !lutEntry(lut, signatureKey(sig)));
  const total = distinct.length;
  return {
    covered: total - missing.length,
    total,
    ratio: total === 0 ? 1 : (total - missing.length) / total,
    missing,
  };
}

/**
 * Every signature a space can use: stem, head and, for every searchable layer, every valid non-skip block
 * choice among `blockTypes` (skip is free and has no signature).
 */
export function spaceSignatures(
  config: MacroConfig,
  blockTypes: readonly BlockType[] = BLOCK_TYPES,
): BlockSignature[] {
  const sigs: BlockSignature[] = [stemSignature(config)];
  for (const layer of layoutLayers([], config)) {
    for (const block of blockTypes) {
      if (block === 'skip' || !blockFits(block, layer)) continue;
      sigs.push(layerSignature({ ...layer, block }) as BlockSignature);
    }
  }
  sigs.push(headSignature(config));
  return dedupe(sigs);
}

/**
 * Signatures the LUT still lacks for one or more spaces (each config's full block choice set), or for
 * specific architectures when given as `{arch, config}` pairs.
 */
export function missingSignatures(
  lut: LatencyLut,
  target:
    MacroConfig | readonly MacroConfig[] | { readonly arch: Architecture; readonly config: MacroConfig },
  blockTypes: readonly BlockType[] = BLOCK_TYPES,
): BlockSignature[] {
  let needed: BlockSignature[];
  if ('arch' in target) needed = distinctSignatures(target.arch, target.config);
  else {
    const configs: readonly MacroConfig[] = Array.isArray(target) ? target : [target as MacroConfig];
    needed = configs.flatMap((c) => spaceSignatures(c, blockTypes));
  }
  return lutCoverage(lut, needed).missing;
}
