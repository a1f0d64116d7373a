/**
 * Latency prediction benchmark on this machine: builds the LUT of each space with the device agent's harness,
 * fits calibrations on two sets measured end to end in one interleaved run (stratified over the predicted-latency
 * range, as agents measure it, and uniformly sampled), then measures held-out architectures end to end in two
 * independent interleaved passes and compares, in the same run: MAC-proportional baseline, raw LUT sum,
 * overhead-corrected sum (uncalibrated), both calibrations, and the noise floor (pass A vs pass B). Pass B also
 * re-measures the stratified set's reference networks first, and that calibration times their drift scale is
 * scored on it (the refit agents do periodically and on drift).
 *
 * With `--precisions fp32,int8` each precision gets its own LUT (int8: every block quantized before timing, as an
 * int8 agent measures it) and calibration, and the networks of both are measured in the same interleaved rounds.
 *
 *   npm run build && node dist/bench/latency.js [--spaces proxy-28,fbnet-224] [--calibration 40] [--heldout 100]
 *     [--precisions fp32,int8]
 */
import { Command, InvalidArgumentError } from 'commander';
import { int } from './options';
import { ArchitectureUpload, DEVICE_PRECISIONS, DevicePrecision } from '@edgenas/contracts';
import * as os from 'node:os';
import {
  CalibrationSample,
  LatencyLut,
  PredictionQuality,
  buildLut,
  chooseCalibrationSet,
  chooseReferenceNetworks,
  evaluatePredictions,
  fitCalibration,
  macProportionalBaseline,
  median,
  noiseFloor,
  predictLatency,
  rawLutSumBaseline,
  spaceSignatures,
} from '@edgenas/latency-predictor';
import {
  Architecture,
  MacroConfig,
  architectureId,
  createRng,
  formatArchitecture,
  resolveSpace,
  sampleArchitecture,
} from '@edgenas/search-space';
import {
  ARCHITECTURE_CHUNK,
  ArchitectureToMeasure,
  BenchmarkClock,
  BenchmarkOptions,
  DEFAULT_BENCHMARK_OPTIONS,
  benchmarkArchitectures,
  benchmarkSignatures,
  describeDevice,
} from '@edgenas/device-benchmark';

interface Flags {
  spaces: string;
  calibration: number;
  heldout: number;
  threads: number;
  rounds: number;
  repeats: number;
  archRounds: number;
  archRepeats: number;
  seed: number;
  clock: BenchmarkClock;
  precisions: DevicePrecision[];
}

const pct = (x: number) => (Number.isNaN(x) ? '   n/a' : `${(100 * x).toFixed(1).padStart(5)}%`);
const num = (x: number) => (Number.isNaN(x) ? '  n/a' : x.toFixed(3).padStart(6));
const elapsed = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

function sampleDistinct(config: MacroConfig, n: number, seed: number, exclude: Set<string>): Architecture[] {
  const rng = createRng(seed);
  const out: Architecture[] = [];
  for (let tries = 0; out.length < n && tries < n * 100; tries++) {
    const arch = sampleArchitecture(config, rng);
    const id = architectureId(arch);
    if (exclude.has(id)) continue;
    exclude.add(id);
    out.push(arch);
  }
  return out;
}

function row(name: string, q: PredictionQuality): string {
  return `  ${name.padEnd(28)} ${pct(q.within10)}   ${pct(q.within5)}   ${pct(q.rmspe)}   ${num(q.kendallTau)}`;
}

/** What one precision's predictor is built from: its LUT and its stratified calibration set. */
interface PrecisionRun {
  readonly precision: DevicePrecision;
  readonly lut: LatencyLut;
  readonly blocks: number;
  readonly flaggedBlocks: number;
  readonly lutSeconds: number;
  readonly stratified: Architecture[];
}

async function benchSpace(
  config: MacroConfig,
  f: Flags,
  blockOpts: BenchmarkOptions,
  precisions: readonly DevicePrecision[],
): Promise<void> {
  const t0 = Date.now();
  const log = (s: string) => process.stdout.write(`[${config.name} ${elapsed(t0)}] ${s}\n`);
  const sigs = spaceSignatures(config);
  const runs: PrecisionRun[] = [];
  for (const precision of precisions) {
    log(`measuring ${sigs.length} LUT entries at ${precision}`);
    const t = Date.now();
    const rows = await benchmarkSignatures(sigs, { ...blockOpts, precision });
    const lut = buildLut(rows);
    runs.push({
      precision,
      lut,
      blocks: rows.length,
      flaggedBlocks: rows.filter((r) => r.driftFlagged).length,
      lutSeconds: (Date.now() - t) / 1000,
      stratified: chooseCalibrationSet(config, lut, { size: f.calibration, seed: f.seed }).map(
        (m) => m.architecture,
      ),
    });
    log(`${precision} LUT built (${runs[runs.length - 1].flaggedBlocks} drift-flagged rows)`);
  }

  const seen = new Set<string>();
  for (const run of runs) for (const a of run.stratified) seen.add(architectureId(a));
  const random = sampleDistinct(config, f.calibration, f.seed, seen);
  const heldout = sampleDistinct(config, f.heldout, f.seed + 1, seen);
  const archOpts: BenchmarkOptions = {
    ...blockOpts,
    rounds: f.archRounds,
    minRepeats: f.archRepeats,
    maxRepeats: Math.max(f.archRepeats, 50),
    chunkSize: ARCHITECTURE_CHUNK,
  };
  /** Items of every precision, alternated (A@fp32 A@int8 B@fp32 …), so all see the same machine states. */
  const interleave = (perPrecision: (run: PrecisionRun) => Architecture[]): ArchitectureToMeasure[] => {
    const lists = runs.map((run) => perPrecision(run).map((architecture) => ({ run, architecture })));
    const out: ArchitectureToMeasure[] = [];
    for (let i = 0; i < Math.max(...lists.map((l) => l.length)); i++)
      for (const l of lists)
        if (i < l.length)
          out.push({ architecture: l[i].architecture, config, precision: l[i].run.precision });
    return out;
  };
  const keyOf = (precision: DevicePrecision, arch: Architecture) => `${precision}:${architectureId(arch)}`;
  const measure = async (items: ArchitectureToMeasure[]): Promise<Map<string, ArchitectureUpload>> => {
    const rows = await benchmarkArchitectures(items, archOpts);
    return new Map(items.map((it, i) => [keyOf(it.precision ?? 'fp32', it.architecture), rows[i]]));
  };

  log(
    `measuring ${runs.map((r) => `${r.stratified.length} stratified`).join(' / ')} + ${random.length} random ` +
      `calibration architectures end to end at ${precisions.join(' / ')}`,
  );
  // stratified and random alternated, so both sets see the same machine states
  const calib = await measure(
    interleave((run) => run.stratified.flatMap((a, i) => (i < random.length ? [a, random[i]] : [a]))),
  );
  const fitted = runs.map((run) => {
    const samplesOf = (archs: Architecture[]): CalibrationSample[] =>
      archs.map((a) => ({
        features: predictLatency(a, config, run.lut).features,
        measuredMs: calib.get(keyOf(run.precision, a))!.estimateMs,
      }));
    const samples = samplesOf(run.stratified);
    const calibration = fitCalibration(samples);
    const randomCalibration = fitCalibration(samplesOf(random));
    log(
      `${run.precision} calibration: ${calibration.model} (cross-validated RMSPE ${pct(calibration.residualSigmaRel)}); ` +
        `on the random set ${randomCalibration.model} (${pct(randomCalibration.residualSigmaRel)})`,
    );
    // the reference networks, as the agent re-measures them, lead pass B: a drift scale for pass B's predictions
    const references = chooseReferenceNetworks(
      run.stratified.map((arch, i) => ({
        arch,
        architecture: formatArchitecture(arch, config),
        measuredMs: samples[i].measuredMs,
      })),
    );
    return { run, samples, calibration, randomCalibration, references };
  });

  log(`measuring ${heldout.length} held-out architectures end to end at ${precisions.join(' / ')}, pass A`);
  const passA = await measure(interleave(() => heldout));
  log(`pass B (after the reference networks)`);
  const refsAndB = await benchmarkArchitectures(
    [
      ...interleave((run) => fitted.find((x) => x.run === run)!.references.map((r) => r.arch)),
      ...interleave(() => heldout),
    ],
    archOpts,
  );
  const refCount = fitted.reduce((n, x) => n + x.references.length, 0);
  const passB = new Map(
    interleave(() => heldout).map((it, i) => [
      keyOf(it.precision ?? 'fp32', it.architecture),
      refsAndB[refCount + i],
    ]),
  );
  const refRows = refsAndB.slice(0, refCount);
  const refItems = interleave((run) => fitted.find((x) => x.run === run)!.references.map((r) => r.arch));

  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const meanByPrecision = new Map<DevicePrecision, number>();
  for (const { run, samples, calibration, randomCalibration, references } of fitted) {
    const { precision, lut } = run;
    const remeasured = new Map(
      refItems
        .map((it, i) => [it, refRows[i]] as const)
        .filter(([it]) => it.precision === precision)
        .map(([it, row]) => [architectureId(it.architecture), row.estimateMs]),
    );
    const driftScale = median(
      references.map((r) => (remeasured.get(architectureId(r.arch)) as number) / r.measuredMs),
    );
    const a = heldout.map((h) => passA.get(keyOf(precision, h))!.estimateMs);
    const b = heldout.map((h) => passB.get(keyOf(precision, h))!.estimateMs);
    meanByPrecision.set(precision, mean(a));
    const testFeatures = heldout.map((arch) => predictLatency(arch, config, lut).features);
    const calibrated = heldout.map((arch) => predictLatency(arch, config, lut, calibration).latencyMs);
    const randomCalibrated = heldout.map(
      (arch) => predictLatency(arch, config, lut, randomCalibration).latencyMs,
    );
    const mac = macProportionalBaseline(samples, testFeatures);
    const raw = rawLutSumBaseline(testFeatures);
    const corrected = testFeatures.map((t) => t.correctedSumMs);
    const rescaled = calibrated.map((ms) => ms * driftScale);
    const floor = noiseFloor(a, b);
    const flagged = [...calib, ...passA, ...passB].filter(
      ([key, m]) => key.startsWith(`${precision}:`) && m.driftFlagged,
    ).length;

    process.stdout.write(
      `\n${config.name} at ${precision}: ${run.blocks} LUT entries in ${run.lutSeconds.toFixed(0)} s ` +
        `(${run.flaggedBlocks} drift-flagged), ${run.stratified.length} + ${random.length} calibration + ` +
        `${heldout.length} held-out architectures (mean ${mean(a).toFixed(3)} ms), ${flagged} drift-flagged ` +
        `architecture measurements, drift scale before pass B ${driftScale.toFixed(3)}, ${elapsed(t0)}\n`,
    );
    for (const [label, measured] of [
      ['pass A', a],
      ['pass B', b],
    ] as const) {
      process.stdout.write(`  vs held-out ${label}         ±10 %     ±5 %     RMSPE   Kendall τ\n`);
      process.stdout.write(row('MAC-proportional', evaluatePredictions(mac, measured)) + '\n');
      process.stdout.write(row('raw LUT sum', evaluatePredictions(raw, measured)) + '\n');
      process.stdout.write(
        row('corrected sum (uncalibrated)', evaluatePredictions(corrected, measured)) + '\n',
      );
      process.stdout.write(
        row(`stratified set (${calibration.model})`, evaluatePredictions(calibrated, measured)) + '\n',
      );
      process.stdout.write(
        row(`random set (${randomCalibration.model})`, evaluatePredictions(randomCalibrated, measured)) +
          '\n',
      );
      if (label === 'pass B')
        process.stdout.write(row('stratified × drift scale', evaluatePredictions(rescaled, measured)) + '\n');
    }
    process.stdout.write(
      row('noise floor (A vs B)', evaluatePredictions(a, b)) +
        `\n  noise floor within ±10 %: ${pct(floor)}\n` +
        `  held-out within ±10 % of pass A (stratified calibration): ` +
        `${Math.round(evaluatePredictions(calibrated, a).within10 * heldout.length)} of ${heldout.length}\n\n`,
    );
  }
  const fp32 = meanByPrecision.get('fp32');
  const int8 = meanByPrecision.get('int8');
  if (fp32 !== undefined && int8 !== undefined)
    process.stdout.write(
      `${config.name}: held-out mean latency, pass A: fp32 ${fp32.toFixed(3)} ms, int8 ${int8.toFixed(3)} ms ` +
        `(int8 / fp32 = ${(int8 / fp32).toFixed(2)})\n\n`,
    );
}

async function main(): Promise<void> {
  const program = new Command('latency-bench')
    .option(
      '--spaces <list>',
      'spaces to benchmark (with a geometry: fbnet-224@96x96x3-c10)',
      'proxy-28,fbnet-224',
    )
    .option(
      '--calibration <n>',
      'architectures per calibration set (stratified and random)',
      int(3, 1000),
      20,
    )
    .option('--heldout <n>', 'held-out architectures measured twice', int(2, 1000), 100)
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int(1, 64), 1)
    .option(
      '--precisions <list>',
      'fp32 and/or int8: one LUT and calibration per precision, the networks of all measured interleaved',
      (v: string) =>
        v.split(',').map((p) => {
          const known = DEVICE_PRECISIONS.find((d) => d === p.trim());
          if (!known) throw new InvalidArgumentError(`must list ${DEVICE_PRECISIONS.join(' and/or ')}`);
          return known;
        }),
      ['fp32'],
    )
    .option('--rounds <n>', 'interleaved rounds per LUT entry', int(1, 100), DEFAULT_BENCHMARK_OPTIONS.rounds)
    .option(
      '--repeats <n>',
      'timed runs per LUT entry per round (at least)',
      int(1, 1000),
      DEFAULT_BENCHMARK_OPTIONS.minRepeats,
    )
    .option('--arch-rounds <n>', 'interleaved rounds per architecture', int(1, 100), 5)
    .option('--arch-repeats <n>', 'timed runs per architecture per round (at least)', int(1, 1000), 3)
    .option('--seed <n>', 'sampling seed', int(0, 2 ** 31), 1)
    .option(
      '--clock <clock>',
      'wall (elapsed) or cpu (process CPU time, steadier on a shared machine)',
      (v: string) => {
        if (v !== 'wall' && v !== 'cpu') throw new InvalidArgumentError('must be wall or cpu');
        return v;
      },
      'wall',
    )
    .parse();
  const f = program.opts<Flags>();
  // a space may carry a deployment geometry, e.g. fbnet-224@96x96x3-c10
  const configs = f.spaces.split(',').map((s) => resolveSpace(s.trim()));
  const profile = describeDevice(os.hostname(), f.threads);
  process.stdout.write(
    `device: ${profile.hardware.cpuModel}, ${profile.hardware.cores} cores, ORT ${profile.runtime.engineVersion}, ` +
      `${f.threads} thread(s), ${f.clock} clock, ${f.precisions.join(' + ')}; load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n`,
  );
  const blockOpts: BenchmarkOptions = {
    ...DEFAULT_BENCHMARK_OPTIONS,
    clock: f.clock,
    threads: f.threads,
    rounds: f.rounds,
    minRepeats: f.repeats,
  };
  const cpu0 = process.cpuUsage();
  const wall0 = Date.now();
  for (const config of configs) await benchSpace(config, f, blockOpts, [...new Set(f.precisions)]);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    `wall ${((Date.now() - wall0) / 1000).toFixed(0)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s\n`,
  );
  process.stdout.write(
    `load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`latency bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
