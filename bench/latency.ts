/**
 * Latency prediction benchmark on this machine: builds the LUT of each space with the device agent's harness,
 * fits calibrations on two sets measured end to end in one interleaved run (stratified over the predicted-latency
 * range, as agents measure it, and uniformly sampled), then measures held-out architectures end to end in two
 * independent interleaved passes and compares, in the same run: MAC-proportional baseline, raw LUT sum,
 * overhead-corrected sum (uncalibrated), both calibrations, and the noise floor (pass A vs pass B). Pass B also
 * re-measures the stratified set's reference networks first, and that calibration times their drift scale is
 * scored on it (the refit agents do periodically and on drift).
 *
 *   npm run build && node dist/bench/latency.js [--spaces proxy-28,fbnet-224] [--calibration 40] [--heldout 100]
 */
import { Command, InvalidArgumentError } from 'commander';
import { int } from './options';
import * as os from 'node:os';
import {
  CalibrationSample,
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
  getMacroConfig,
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

async function benchSpace(config: MacroConfig, f: Flags, blockOpts: BenchmarkOptions): Promise<void> {
  const t0 = Date.now();
  const log = (s: string) => process.stdout.write(`[${config.name} ${elapsed(t0)}] ${s}\n`);
  const sigs = spaceSignatures(config);
  log(`measuring ${sigs.length} LUT entries`);
  const rows = await benchmarkSignatures(sigs, blockOpts);
  const lut = buildLut(rows);
  log(`LUT built (${rows.filter((r) => r.driftFlagged).length} drift-flagged rows)`);

  const seen = new Set<string>();
  const stratified = chooseCalibrationSet(config, lut, { size: f.calibration, seed: f.seed }).map(
    (m) => m.architecture,
  );
  for (const a of stratified) seen.add(architectureId(a));
  const random = sampleDistinct(config, f.calibration, f.seed, seen);
  const heldout = sampleDistinct(config, f.heldout, f.seed + 1, seen);
  const archOpts: BenchmarkOptions = {
    ...blockOpts,
    rounds: f.archRounds,
    minRepeats: f.archRepeats,
    maxRepeats: Math.max(f.archRepeats, 50),
    chunkSize: ARCHITECTURE_CHUNK,
  };
  const items = (archs: Architecture[]): ArchitectureToMeasure[] =>
    archs.map((architecture) => ({ architecture, config }));
  log(
    `measuring ${stratified.length} stratified + ${random.length} random calibration architectures end to end`,
  );
  // alternated, so both sets see the same machine states
  const calib = stratified.flatMap((a, i) => (i < random.length ? [a, random[i]] : [a]));
  const calibMeasured = await benchmarkArchitectures(items(calib), archOpts);
  const measuredOf = new Map(calib.map((a, i) => [architectureId(a), calibMeasured[i].estimateMs]));
  const samplesOf = (archs: Architecture[]): CalibrationSample[] =>
    archs.map((a) => ({
      features: predictLatency(a, config, lut).features,
      measuredMs: measuredOf.get(architectureId(a)) as number,
    }));
  const samples = samplesOf(stratified);
  const calibration = fitCalibration(samples);
  const randomCalibration = fitCalibration(samplesOf(random));
  log(
    `calibration: ${calibration.model} (cross-validated RMSPE ${pct(calibration.residualSigmaRel)}); ` +
      `on the random set ${randomCalibration.model} (${pct(randomCalibration.residualSigmaRel)})`,
  );

  log(`measuring ${heldout.length} held-out architectures end to end, pass A`);
  const passA = await benchmarkArchitectures(items(heldout), archOpts);
  // the reference networks, as the agent re-measures them, lead pass B: a drift scale for pass B's predictions
  const references = chooseReferenceNetworks(
    stratified.map((arch, i) => ({
      arch,
      architecture: formatArchitecture(arch, config),
      measuredMs: samples[i].measuredMs,
    })),
  );
  log(`pass B (after ${references.length} reference networks)`);
  const refsAndB = await benchmarkArchitectures(
    items([...references.map((r) => r.arch), ...heldout]),
    archOpts,
  );
  const driftScale = median(references.map((r, i) => refsAndB[i].estimateMs / r.measuredMs));
  const passB = refsAndB.slice(references.length);
  const a = passA.map((m) => m.estimateMs);
  const b = passB.map((m) => m.estimateMs);
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
  const flagged = [...calibMeasured, ...passA, ...passB].filter((m) => m.driftFlagged).length;

  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  process.stdout.write(
    `\n${config.name}: ${sigs.length} LUT entries, ${stratified.length} + ${random.length} calibration + ` +
      `${heldout.length} held-out ` +
      `architectures (mean ${mean(a).toFixed(2)} ms), ${flagged} drift-flagged architecture measurements, ` +
      `drift scale before pass B ${driftScale.toFixed(3)}, ${elapsed(t0)}\n`,
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
      row(`random set (${randomCalibration.model})`, evaluatePredictions(randomCalibrated, measured)) + '\n',
    );
    if (label === 'pass B')
      process.stdout.write(row('stratified × drift scale', evaluatePredictions(rescaled, measured)) + '\n');
  }
  process.stdout.write(
    row('noise floor (A vs B)', evaluatePredictions(a, b)) +
      `\n  noise floor within ±10 %: ${pct(floor)}\n\n`,
  );
}

async function main(): Promise<void> {
  const program = new Command('latency-bench')
    .option('--spaces <list>', 'spaces to benchmark', 'proxy-28,fbnet-224')
    .option(
      '--calibration <n>',
      'architectures per calibration set (stratified and random)',
      int(3, 1000),
      20,
    )
    .option('--heldout <n>', 'held-out architectures measured twice', int(2, 1000), 100)
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int(1, 64), 1)
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
  const configs = f.spaces.split(',').map((s) => getMacroConfig(s.trim()));
  const profile = describeDevice(os.hostname(), f.threads);
  process.stdout.write(
    `device: ${profile.hardware.cpuModel}, ${profile.hardware.cores} cores, ORT ${profile.runtime.engineVersion}, ` +
      `${f.threads} thread(s), ${f.clock} clock; load average ${os
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
  for (const config of configs) await benchSpace(config, f, blockOpts);
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
