import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ArchitectureUpload, DEFAULT_PRECISION, DevicePrecision, FinalModelFile } from '@edgenas/contracts';
import { ArchitectureMeasurementPurpose, BlockMeasurement, LatencyStats } from '@edgenas/latency-predictor';
import { Architecture, BlockSignature, MacroConfig, signatureKey } from '@edgenas/search-space';
import { formatArchitecture } from '@edgenas/search-space';
import { lowerSignature } from '@edgenas/search-space/graph';
import { measurementAgentVersion } from './version';
import {
  DEFAULT_INTERLEAVED_OPTIONS,
  InterleavedOptions,
  InterleavedResult,
  measureInterleaved,
} from './interleaved';
import {
  BenchmarkModel,
  architectureModel,
  modelFileModel,
  nullModelFor,
  signatureMacs,
  signatureModel,
} from './models';
import { BoundSession, createBoundSession } from './ort-session';
import { modelAtPrecision } from './precision';
import { DRIFT_TOLERANCE, DriftMonitor } from './statistics';

export interface BenchmarkOptions extends InterleavedOptions {
  /** ONNX Runtime intra-op threads (inter-op is always 1). */
  readonly threads: number;
  /** Items measured together (interleaved) with live sessions; bounds memory and session count. */
  readonly chunkSize: number;
  /** A chunk whose reference moved more than this against the first chunk is flagged. */
  readonly driftTolerance: number;
  /**
   * Precision of the device profile: int8 quantizes every block and network built here before timing it (a
   * given model file, and the null models that measure input/output binding, are timed as they are).
   */
  readonly precision: DevicePrecision;
}

export const DEFAULT_BENCHMARK_OPTIONS: BenchmarkOptions = {
  ...DEFAULT_INTERLEAVED_OPTIONS,
  precision: DEFAULT_PRECISION,
  threads: 1,
  chunkSize: 24,
  driftTolerance: DRIFT_TOLERANCE,
};

/** Progress of a benchmark: items finished out of the total, and what is being measured. */
export type ProgressListener = (done: number, total: number, label: string) => void;

export interface BenchmarkHooks<T> {
  readonly onProgress?: ProgressListener;
  /** Called with each chunk's results as soon as it is measured (to store them before the next chunk). */
  readonly onChunk?: (results: T[]) => void | Promise<void>;
}

interface ChunkResult {
  readonly stats: InterleavedResult[];
  /** Null-model statistics per item (when null models were asked for). */
  readonly overhead: (InterleavedResult | undefined)[];
  readonly reference: InterleavedResult;
}

/**
 * Measures one chunk: the reference, the items and (optionally) one null model per distinct input/output size,
 * all interleaved in the same rounds. Sessions are created for the chunk and released after it.
 */
/** CPU time equals latency only when one thread does the work. */
export function checkBenchmarkOptions(opts: BenchmarkOptions): void {
  if (opts.clock === 'cpu' && opts.threads !== 1) {
    throw new Error(`the cpu clock needs 1 thread (CPU time of ${opts.threads} threads is not latency)`);
  }
}

async function measureChunk(
  reference: BenchmarkModel,
  items: readonly BenchmarkModel[],
  withNullModels: boolean,
  opts: BenchmarkOptions,
): Promise<ChunkResult> {
  const nulls = new Map<string, BenchmarkModel>();
  if (withNullModels) for (const m of items) if (!nulls.has(m.ioKey)) nulls.set(m.ioKey, nullModelFor(m));
  const all = [reference, ...items, ...nulls.values()];
  const sessions: BoundSession[] = [];
  try {
    for (const m of all)
      sessions.push(await createBoundSession(m.model, m.inputShape, { threads: opts.threads }));
    const stats = await measureInterleaved(sessions, opts);
    const nullStats = new Map([...nulls.keys()].map((k, i) => [k, stats[1 + items.length + i]]));
    return {
      reference: stats[0],
      stats: stats.slice(1, 1 + items.length),
      overhead: items.map((m) => nullStats.get(m.ioKey)),
    };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** Process-level warm-up before the first chunk (JIT, allocator, CPU clocks), so the drift baseline is not cold. */
export const PROCESS_WARMUP_MS = 500;

async function warmUpProcess(reference: BenchmarkModel, opts: BenchmarkOptions): Promise<void> {
  const session = await createBoundSession(reference.model, reference.inputShape, { threads: opts.threads });
  try {
    const end = performance.now() + PROCESS_WARMUP_MS;
    while (performance.now() < end) await session.run();
  } finally {
    await session.release();
  }
}

function latencyStats(s: InterleavedResult): LatencyStats {
  return {
    estimateMs: s.estimateMs,
    medianMs: s.medianMs,
    p10Ms: s.p10Ms,
    p90Ms: s.p90Ms,
    rounds: s.rounds,
    repeatsPerRound: s.repeatsPerRound,
    warmupRuns: s.warmupRuns,
  };
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += Math.max(1, size)) out.push(xs.slice(i, i + Math.max(1, size)));
  return out;
}

/**
 * The signature at the 75th percentile of cost: a reference costly enough not to be dominated by per-run
 * overhead and timer noise, yet not among the slowest.
 */
export function pickReference(sigs: readonly BlockSignature[]): BlockSignature {
  const byCost = sigs.map((s) => ({ s, macs: signatureMacs(s) })).sort((a, b) => a.macs - b.macs);
  return byCost[Math.floor((byCost.length - 1) * 0.75)].s;
}

/** What every row of one chunk shares. */
interface ChunkStamp {
  readonly agentVersion: string;
  readonly measuredAt: string;
  readonly driftFlagged: boolean;
}

/**
 * The one chunk loop: warms the process up on the reference, then measures the items chunk by chunk, the
 * reference re-measured in every chunk (a chunk where it moved more than the tolerance against the first
 * chunk is flagged), and hands each chunk's rows to `onChunk` before the next one starts.
 */
async function measureInChunks<I, R>(
  items: readonly I[],
  referenceModel: BenchmarkModel,
  plan: {
    readonly label: (item: I) => string;
    /** The model timed for an item, at the options' precision. */
    readonly model: (item: I) => Promise<BenchmarkModel>;
    /** Measure each item's null model of the same input/output size beside it (its `overhead`). */
    readonly withNullModels: boolean;
    readonly row: (
      item: I,
      stats: InterleavedResult,
      overhead: InterleavedResult | undefined,
      stamp: ChunkStamp,
    ) => R;
  },
  opts: BenchmarkOptions,
  hooks: BenchmarkHooks<R>,
): Promise<R[]> {
  const { onProgress, onChunk } = hooks;
  await warmUpProcess(referenceModel, opts);
  const out: R[] = [];
  const drift = new DriftMonitor(opts.driftTolerance);
  let done = 0;
  for (const chunk of chunks(items, opts.chunkSize)) {
    onProgress?.(done, items.length, plan.label(chunk[0]));
    const models: BenchmarkModel[] = [];
    for (const item of chunk) models.push(await plan.model(item));
    const res = await measureChunk(referenceModel, models, plan.withNullModels, opts);
    const stamp: ChunkStamp = {
      agentVersion: measurementAgentVersion(opts.clock, opts.precision),
      measuredAt: new Date().toISOString(),
      driftFlagged: drift.observe(res.reference.estimateMs),
    };
    const results = chunk.map((item, i) => plan.row(item, res.stats[i], res.overhead[i], stamp));
    out.push(...results);
    await onChunk?.(results);
    done += chunk.length;
    onProgress?.(done, items.length, plan.label(chunk[chunk.length - 1]));
  }
  return out;
}

/**
 * Benchmarks LUT entries: each signature as a standalone ONNX model, with the null model of the same
 * input/output size in the same rounds (its estimate is the entry's `overheadMs`).
 */
export async function benchmarkSignatures(
  sigs: readonly BlockSignature[],
  opts: BenchmarkOptions = DEFAULT_BENCHMARK_OPTIONS,
  hooks: BenchmarkHooks<BlockMeasurement> & {
    readonly reference?: BlockSignature;
    /** A signature that cannot be built as a model (the server asked for something invalid); it is left out. */
    readonly onSkip?: (key: string, reason: string) => void;
  } = {},
): Promise<BlockMeasurement[]> {
  checkBenchmarkOptions(opts);
  sigs = sigs.filter((sig) => {
    try {
      lowerSignature(sig);
      return true;
    } catch (err) {
      hooks.onSkip?.(signatureKey(sig), (err as Error).message);
      return false;
    }
  });
  if (sigs.length === 0) return [];
  const model = (sig: BlockSignature) => modelAtPrecision(signatureModel(sig), opts.precision);
  const reference = await model(hooks.reference ?? pickReference(sigs));
  const plan = {
    label: signatureKey,
    model,
    withNullModels: true,
    row: (
      signature: BlockSignature,
      stats: InterleavedResult,
      overhead: InterleavedResult | undefined,
      stamp: ChunkStamp,
    ): BlockMeasurement => ({
      id: randomUUID(),
      signature,
      ...latencyStats(stats),
      overheadMs: overhead?.estimateMs ?? 0,
      ...stamp,
    }),
  };
  return measureInChunks(sigs, reference, plan, opts, hooks);
}

export interface ArchitectureToMeasure {
  readonly architecture: Architecture;
  readonly config: MacroConfig;
  /** Set when this answers a verification request from the server. */
  readonly verificationId?: string;
  /** Set when the server asked for it as calibration work. */
  readonly purpose?: ArchitectureMeasurementPurpose;
  /** A final model's file to measure as it is (instead of the architecture built here), and which file it is. */
  readonly modelFile?: { readonly file: FinalModelFile; readonly onnx: Uint8Array };
  /** The precision to build it at instead of the options' (a bench interleaves both in the same rounds). */
  readonly precision?: DevicePrecision;
}

/** Whole networks per chunk by default: fbnet-224 models are tens of MB each. */
export const ARCHITECTURE_CHUNK = 8;

/**
 * Benchmarks whole architectures end to end, interleaved, in chunks; the first architecture is the drift
 * reference re-measured in every chunk.
 */
export async function benchmarkArchitectures(
  archs: readonly ArchitectureToMeasure[],
  opts: BenchmarkOptions = { ...DEFAULT_BENCHMARK_OPTIONS, chunkSize: ARCHITECTURE_CHUNK },
  hooks: BenchmarkHooks<ArchitectureUpload> = {},
): Promise<ArchitectureUpload[]> {
  checkBenchmarkOptions(opts);
  if (archs.length === 0) return [];
  const label = (a: ArchitectureToMeasure) =>
    `${a.modelFile ? `${a.modelFile.file} file ` : ''}${a.config.name}:${formatArchitecture(a.architecture)}`;
  const model = async (a: ArchitectureToMeasure) =>
    a.modelFile
      ? modelFileModel(label(a), a.modelFile.onnx, a.architecture, a.config)
      : modelAtPrecision(
          architectureModel(label(a), a.architecture, a.config),
          a.precision ?? opts.precision,
        );
  const plan = {
    label,
    model,
    withNullModels: false,
    row: (
      a: ArchitectureToMeasure,
      stats: InterleavedResult,
      _overhead: unknown,
      stamp: ChunkStamp,
    ): ArchitectureUpload => ({
      id: randomUUID(),
      space: a.config.name,
      architecture: formatArchitecture(a.architecture),
      ...latencyStats(stats),
      ...stamp,
      // a given file is timed as it is, whatever the precision
      agentVersion: measurementAgentVersion(
        opts.clock,
        a.modelFile ? 'fp32' : (a.precision ?? opts.precision),
      ),
      ...(a.verificationId ? { verificationId: a.verificationId } : {}),
      ...(a.purpose ? { purpose: a.purpose } : {}),
      ...(a.modelFile ? { modelFile: a.modelFile.file } : {}),
    }),
  };
  return measureInChunks(archs, await model(archs[0]), plan, opts, hooks);
}
