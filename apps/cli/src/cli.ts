import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Table from 'cli-table3';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CandidateSummary, PRESET_NAMES } from '@edgenas/contracts';
import { CALIBRATION_SET_SIZE } from '@edgenas/latency-predictor';
import { ApiRequestError, CliError, EdgenasApi, resolveConnection } from './api';
import { localImageFolder, uploadImageFolder } from './datasets';
import { addFinalModelCommands } from './final-models';
import { JobFlags, JobRequest, buildJobRequest, readJobFile } from './job-request';
import { BarSet, createBars } from './progress';
import {
  DatasetView,
  DeviceView,
  JobListItem,
  JobView,
  KeyView,
  LatencyRangeView,
  LutView,
  ParetoView,
  TERMINAL_STATUSES,
} from './views';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Where progress bars go (bars only when it is a terminal). */
  readonly progressStream: NodeJS.WriteStream;
  /** Waits between polls (tests may pass a shorter one). */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface GlobalFlags {
  api?: string;
  apiKey?: string;
  json?: boolean;
  interval: number;
}

const sleepFor = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be an integer ≥ 1`);
    return n;
  };
}

function integer(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer`);
    return n;
  };
}

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function formatMs(ms: number): string {
  return ms < 1 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(2) : ms.toFixed(0);
}

function formatAccuracy(c: CandidateSummary): string {
  const mean = `${(c.accuracy * 100).toFixed(1)} %`;
  if (c.accuracySd !== undefined) return `${mean} ± ${(c.accuracySd * 100).toFixed(1)}`;
  return c.accuracySource === 'supernet' ? `${mean} (supernet)` : mean;
}

function formatCount(n: number): string {
  return n >= 1e9
    ? `${(n / 1e9).toFixed(2)} G`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(1)} M`
      : `${(n / 1e3).toFixed(1)} k`;
}

/** Plain tables off a terminal (no colour codes in pipes and logs). */
function table(head: string[], colour: boolean): Table.Table {
  return new Table({ head, style: colour ? {} : { head: [], border: [] } });
}

/** The EdgeNAS command line: returns the exit code (0 ok, 1 the API or the job refused, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const sleep = io.sleep ?? sleepFor;
  const colour = io.progressStream.isTTY === true;
  const program = new Command()
    .name('edgenas')
    .description(
      'EdgeNAS from the terminal: submit and watch NAS jobs, read fronts, train and download models, devices, keys',
    )
    .option('--api <url>', 'API base URL (env EDGENAS_API_URL; default http://localhost:$PORT or :3000)')
    .option('--api-key <key>', 'user API key (env EDGENAS_API_KEY; default .edgenas/api-key)')
    .option('--json', 'print the API answer as JSON instead of tables')
    .addOption(
      new Option('--interval <ms>', 'polling interval while waiting')
        .argParser(positiveInt('--interval'))
        .default(2000),
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError();

  const globals = () => program.opts<GlobalFlags>();
  const api = () => new EdgenasApi(resolveConnection(globals(), io.env, io.cwd));
  const printJson = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  const bars = (): BarSet => createBars(io.progressStream, io.err);

  const devicesById = async (client: EdgenasApi) =>
    new Map((await client.get<DeviceView[]>('/v1/devices')).map((d) => [d.id, d]));

  /** A device by id or by name (names must be unique to be used). */
  async function resolveDevice(client: EdgenasApi, ref: string): Promise<DeviceView> {
    const devices = await client.get<DeviceView[]>('/v1/devices');
    const byId = devices.find((d) => d.id === ref);
    if (byId) return byId;
    const named = devices.filter((d) => d.name === ref);
    if (named.length === 1) return named[0];
    if (named.length > 1)
      throw new CliError(
        `device name "${ref}" is ambiguous; use an id: ${named.map((d) => d.id).join(', ')}`,
      );
    const known = devices.map((d) => d.name).join(', ') || 'none registered yet (start a device agent)';
    throw new CliError(`unknown device "${ref}"; known devices: ${known}`);
  }

  /** Polls a device's LUT for a space until it covers every signature (and the calibration set is measured). */
  async function waitForLut(client: EdgenasApi, device: DeviceView, space: string, calibration: boolean) {
    const progress = bars();
    const path = `/v1/devices/${encodeURIComponent(device.id)}/lut?space=${encodeURIComponent(space)}`;
    try {
      for (;;) {
        const lut = await client.get<LutView>(path);
        const coverage = lut.coverage ?? { covered: 0, total: 1, ratio: 0 };
        progress.update('LUT', coverage.covered, coverage.total, `${device.name} · ${lut.space}`);
        const lutDone = coverage.covered >= coverage.total;
        if (lutDone && calibration) {
          progress.update(
            'calibration',
            lut.calibrationSetMeasured,
            CALIBRATION_SET_SIZE,
            'networks measured end to end',
          );
        }
        if (lutDone && (!calibration || lut.calibrationSetMeasured >= CALIBRATION_SET_SIZE)) return lut;
        await sleep(globals().interval);
      }
    } finally {
      progress.stop();
    }
  }

  /** Polls a job until it ends, drawing generation and candidate bars; throws when it failed or was cancelled. */
  async function watchJob(client: EdgenasApi, id: string): Promise<JobView> {
    const progress = bars();
    let view: JobView;
    try {
      for (;;) {
        view = await client.get<JobView>(`/v1/jobs/${encodeURIComponent(id)}`);
        const p = view.progress;
        if (p) {
          progress.update('generation', p.generation, p.generations, p.activity ?? view.status);
          progress.update(
            'candidates',
            p.trained,
            view.input.budget.maxTrainedCandidates,
            `trained · ${p.rejectedOverBudget} over budget · front ${p.front.length}`,
          );
        }
        if (TERMINAL_STATUSES.includes(view.status)) break;
        if (!p)
          progress.update('waiting', 0, view.input.budget.generations, `job ${view.status}, no progress yet`);
        await sleep(globals().interval);
      }
    } finally {
      progress.stop();
    }
    if (view.status === 'failed')
      throw new CliError(`job ${id} failed: ${view.error ?? 'no reason recorded'}`);
    if (view.status === 'cancelled') throw new CliError(`job ${id} was cancelled`);
    return view;
  }

  async function printPareto(client: EdgenasApi, id: string, wide: boolean) {
    const pareto = await client.get<ParetoView>(`/v1/jobs/${encodeURIComponent(id)}/pareto`);
    if (globals().json) return printJson(pareto);
    const devices = await devicesById(client);
    const deviceIds = Object.keys(pareto.front[0]?.predictedLatencyByDevice ?? {});
    const latencyHeads = deviceIds.map((d) => `ms on ${devices.get(d)?.name ?? d} (pred / meas)`);
    const latencies = (c: CandidateSummary) =>
      deviceIds.map((d) => {
        const pred = c.predictedLatencyByDevice[d];
        const meas = c.measuredLatencyByDevice?.[d];
        const over = pred > pareto.latencyBudgetMs ? ' over' : '';
        return `${pred === undefined ? '–' : formatMs(pred)} / ${meas === undefined ? '–' : formatMs(meas)}${over}`;
      });
    io.out(
      `job ${pareto.jobId}: ${pareto.status}${pareto.final ? '' : ' (front so far)'} · budget ${formatMs(pareto.latencyBudgetMs)} ms · ` +
        `${pareto.evaluationMode} · hypervolume ${pareto.hypervolume === null ? '–' : pareto.hypervolume.toFixed(4)}`,
    );
    const front = table(
      ['#', 'architecture id', 'accuracy', ...latencyHeads, 'MACs', 'params', 'model'],
      colour,
    );
    pareto.front.forEach((c, i) =>
      front.push([
        String(i + 1),
        c.architectureId +
          (c.baseline ? ` (${c.baseline})` : '') +
          (c.tiedWith && c.tiedWith.length > 0 ? ` (tied ${c.tiedWith.length})` : ''),
        formatAccuracy(c),
        ...latencies(c),
        formatCount(c.macs),
        formatCount(c.params),
        c.modelUrl ? 'yes' : '–',
      ]),
    );
    io.out(front.toString());
    if (wide) pareto.front.forEach((c, i) => io.out(`${i + 1}. ${c.architecture}`));
    if (pareto.baselines.length > 0) {
      const baselines = table(['baseline', 'accuracy', ...latencyHeads, 'covered by front'], colour);
      for (const b of pareto.baselines)
        baselines.push([b.baseline, formatAccuracy(b), ...latencies(b), b.coveredByFront ? 'yes' : 'no']);
      io.out(baselines.toString());
    }
    io.out(`models: edgenas models download ${pareto.jobId} <architecture id>`);
  }

  function describeRefusal(err: ApiRequestError): string {
    if (err.status === 409 && err.body?.missingCount !== undefined)
      return `${err.message}\n  (add --wait-lut to wait for the device's agent to finish)`;
    if (err.status === 422 && err.body?.fastestAchievableMs !== undefined)
      return `${err.message}\n  (see \`edgenas devices latency-range <device> --space …\`, or pass --budget-ms suggested)`;
    return err.message;
  }

  const jobs = program.command('jobs').description('NAS jobs');

  jobs
    .command('submit')
    .description('Submit a job from flags and/or a JSON or YAML request file (flags win)')
    .argument('[file]', 'job request file (the body of POST /v1/jobs; devices may be names)')
    .option('--device <name|id>', 'target device (repeat or comma-separate for several)', collect)
    .option('--space <space>', 'search space with its deployment geometry, e.g. fbnet-224@96x96x3-c10')
    .option('--input <HxWxC>', 'deployment input shape (or put it in --space)')
    .option('--classes <n>', 'deployment classes', positiveInt('--classes'))
    .option(
      '--budget-ms <ms|suggested>',
      'latency budget; "suggested" = the median of the space on the device(s)',
    )
    .addOption(new Option('--preset <name>', 'search and evaluation budget').choices([...PRESET_NAMES]))
    .option('--dataset <kind>', 'proxy dataset: fashion-mnist or synthetic')
    .option('--mode <mode>', 'evaluation mode: supernet or standalone')
    .option('--strategy <name>', 'nsga2, evolution or random')
    .option(
      '--precision <precision>',
      'fp32 (default) or int8: price the front as deployed at that precision; the devices must be profiles of it',
    )
    .option('--seed <n>', 'seed', integer('--seed'))
    .option('--generations <n>', "override the preset's generations", positiveInt('--generations'))
    .option('--population <n>', "override the preset's population", positiveInt('--population'))
    .option(
      '--wait-lut',
      "first wait until each device's LUT covers the space and its calibration set is measured",
    )
    .option('--wait', 'wait for the job to finish, with progress, then print the front')
    .action(async (file: string | undefined, flags: JobFlags & { waitLut?: boolean; wait?: boolean }) => {
      const client = api();
      const request: JobRequest = buildJobRequest(
        file ? readJobFile(resolve(io.cwd, file)) : undefined,
        flags,
      );
      const devices = await Promise.all(
        (request.deviceIds as string[]).map((d) => resolveDevice(client, String(d))),
      );
      request.deviceIds = devices.map((d) => d.id);
      const space = String(request.space);
      if (flags.waitLut) for (const d of devices) await waitForLut(client, d, space, true);
      if (request.latencyBudgetMs === 'suggested') {
        let budget = 0;
        for (const d of devices) {
          const r = await client.get<LatencyRangeView>(
            `/v1/devices/${encodeURIComponent(d.id)}/latency-range?space=${encodeURIComponent(space)}`,
          );
          io.err(
            `${d.name}: fastest ${formatMs(r.fastestAchievableMs)} ms, median ${formatMs(r.medianMs)} ms, ` +
              `slowest sampled ${formatMs(r.sampledSlowestMs)} ms (${r.samples} architectures)`,
          );
          budget = Math.max(budget, r.suggestedBudgetMs);
        }
        // three significant digits: a budget people can read back
        request.latencyBudgetMs = Number(budget.toPrecision(3));
        io.err(`latency budget: ${request.latencyBudgetMs} ms (the median: about half of the space fits)`);
      }
      const created = await client.post<{ id: string; status: string }>('/v1/jobs', request);
      if (globals().json && !flags.wait) return printJson(created);
      io.out(`job ${created.id} submitted (${created.status})`);
      io.out(
        `  watch: edgenas jobs watch ${created.id}    dashboard: ${client.baseUrl}/ui/#/jobs/${created.id}`,
      );
      if (flags.wait) {
        await watchJob(client, created.id);
        await printPareto(client, created.id, false);
      }
    });

  jobs
    .command('list')
    .description('Jobs, newest first')
    .option('--limit <n>', 'how many', positiveInt('--limit'), 20)
    .action(async (flags: { limit: number }) => {
      const client = api();
      const list = await client.get<JobListItem[]>(`/v1/jobs?limit=${flags.limit}`);
      if (globals().json) return printJson(list);
      if (list.length === 0) return io.out('no jobs yet: edgenas jobs submit --help');
      const devices = await devicesById(client);
      const t = table(['id', 'status', 'space', 'budget ms', 'devices', 'created'], colour);
      for (const j of list)
        t.push([
          j.id,
          j.status,
          j.space,
          formatMs(j.latencyBudgetMs),
          j.deviceIds.map((d) => devices.get(d)?.name ?? d).join(', '),
          j.createdAt.replace('T', ' ').slice(0, 19),
        ]);
      io.out(t.toString());
    });

  jobs
    .command('show')
    .description('A job: status, progress, result summary')
    .argument('<id>')
    .action(async (id: string) => {
      const view = await api().get<JobView>(`/v1/jobs/${encodeURIComponent(id)}`);
      if (globals().json) return printJson(view);
      io.out(`job ${view.id}: ${view.status}${view.error ? ` (${view.error})` : ''}`);
      io.out(
        `  space ${view.input.space} · budget ${formatMs(view.input.latencyBudgetMs)} ms · ${view.input.evaluation?.mode ?? 'standalone'}`,
      );
      const p = view.progress;
      if (p)
        io.out(
          `  generation ${p.generation}/${p.generations} · trained ${p.trained} · over budget ${p.rejectedOverBudget} · ` +
            `front ${p.front.length} · hypervolume ${p.hypervolume.toFixed(4)}${p.activity ? ` · ${p.activity}` : ''}`,
        );
      if (view.result)
        io.out(
          `  result: front ${view.result.front.length} · trained ${view.result.trained} · hypervolume ` +
            `${view.result.hypervolume.toFixed(4)} · stopped by ${view.result.stoppedBy}`,
        );
    });

  jobs
    .command('watch')
    .description('Follow a job until it ends, then print its front')
    .argument('<id>')
    .action(async (id: string) => {
      const client = api();
      await watchJob(client, id);
      await printPareto(client, id, false);
    });

  jobs
    .command('cancel')
    .description('Cancel a job (running trainings stop)')
    .argument('<id>')
    .action(async (id: string) => {
      const res = await api().post<unknown>(`/v1/jobs/${encodeURIComponent(id)}/cancel`);
      if (globals().json) return printJson(res);
      io.out(`job ${id}: cancellation requested`);
    });

  jobs
    .command('pareto')
    .description('The Pareto front (final, or so far) and baselines, as a table')
    .argument('<id>')
    .option('--wide', "also print each member's architecture string")
    .action(async (id: string, flags: { wide?: boolean }) => printPareto(api(), id, flags.wide === true));

  program
    .command('models')
    .description('Exported ONNX models')
    .command('download')
    .description("Download a front member's ONNX model")
    .argument('<job>', 'job id')
    .argument('<architectureId>', 'architecture id (see jobs pareto)')
    .option('-o, --out <file>', 'output file (default <architectureId>.onnx)')
    .action(async (job: string, arch: string, flags: { out?: string }) => {
      const bytes = await api().download(
        `/v1/jobs/${encodeURIComponent(job)}/architectures/${encodeURIComponent(arch)}/model.onnx`,
      );
      const out = resolve(io.cwd, flags.out ?? `${arch}.onnx`);
      writeFileSync(out, bytes);
      io.out(`wrote ${out} (${bytes.length} bytes)`);
    });

  const datasets = program
    .command('datasets')
    .description("Image-folder datasets in the API's dataset root (EDGENAS_DATASETS_DIR)");

  datasets
    .command('add')
    .description(
      'Upload a local image folder (one sub-folder per class, PNG/JPEG) as dataset <name>, one image per ' +
        'request; re-running skips images already there. Jobs then use proxy.dataset {kind: image-folder, path: <name>}',
    )
    .argument('<name>', 'dataset name (letters, digits, . _ -)')
    .argument('<folder>', 'local folder: <folder>/<class>/<image>')
    .action(async (name: string, folder: string) => {
      const images = localImageFolder(resolve(io.cwd, folder));
      const client = api();
      const progress = bars();
      const step = Math.max(1, Math.floor(images.length / 20));
      let summary;
      try {
        summary = await uploadImageFolder(client, name, images, (done, total) => {
          if (done % step === 0 || done === total) progress.update('upload', done, total, name);
        });
      } finally {
        progress.stop();
      }
      if (globals().json) return printJson({ dataset: name, path: name, ...summary });
      io.out(
        `${name}: ${summary.images} images in ${summary.classes} classes (${summary.created} new, ` +
          `${summary.unchanged} already there); jobs use "proxy": {"dataset": {"kind": "image-folder", "path": "${name}"}}`,
      );
    });

  datasets
    .command('list')
    .description('Datasets with their classes and image counts')
    .action(async () => {
      const list = await api().get<DatasetView[]>('/v1/datasets');
      if (globals().json) return printJson(list);
      if (list.length === 0)
        return io.out('no datasets yet: add one with `edgenas datasets add <name> <folder>`');
      const t = table(['name', 'images', 'classes'], colour);
      for (const d of list) {
        t.push([d.name, String(d.images), d.classes.map((c) => `${c.name} (${c.images})`).join(', ')]);
      }
      io.out(t.toString());
    });

  const devices = program.command('devices').description('Registered devices');

  devices
    .command('list')
    .description('Devices and their profiles')
    .action(async () => {
      const list = await api().get<DeviceView[]>('/v1/devices');
      if (globals().json) return printJson(list);
      if (list.length === 0)
        return io.out('no devices yet: run a device agent (npm start runs one for this machine)');
      const t = table(['name', 'id', 'profile', 'hardware', 'runtime', 'precision', 'registered'], colour);
      for (const d of list)
        t.push([
          d.name,
          d.id,
          d.profile.name,
          `${d.profile.hardware?.cpuModel ?? '?'} (${d.profile.hardware?.cores ?? '?'} cores)`,
          `${d.profile.runtime?.engine ?? '?'} ${d.profile.runtime?.executionProvider ?? ''} ${d.profile.runtime?.threads ?? '?'}t`,
          d.precision ?? 'fp32',
          d.createdAt.replace('T', ' ').slice(0, 19),
        ]);
      io.out(t.toString());
    });

  devices
    .command('latency-range')
    .description(
      'Fastest, median and slowest predicted latency of a space on a device, and a budget that splits it',
    )
    .argument('<device>', 'device name or id')
    .requiredOption('--space <space>', 'space with its deployment geometry, e.g. fbnet-224@96x96x3-c10')
    .option('--samples <n>', 'architectures sampled', positiveInt('--samples'))
    .option('--seed <n>', 'seed of the sample', integer('--seed'))
    .action(async (ref: string, flags: { space: string; samples?: number; seed?: number }) => {
      const client = api();
      const device = await resolveDevice(client, ref);
      const q = new URLSearchParams({ space: flags.space });
      if (flags.samples !== undefined) q.set('samples', String(flags.samples));
      if (flags.seed !== undefined) q.set('seed', String(flags.seed));
      const r = await client.get<LatencyRangeView>(
        `/v1/devices/${encodeURIComponent(device.id)}/latency-range?${q}`,
      );
      if (globals().json) return printJson(r);
      const t = table(['', 'ms'], colour);
      t.push(
        ['fastest achievable', formatMs(r.fastestAchievableMs)],
        [`sampled fastest (of ${r.samples})`, formatMs(r.sampledFastestMs)],
        ['p10', formatMs(r.p10Ms)],
        ['median', formatMs(r.medianMs)],
        ['p90', formatMs(r.p90Ms)],
        ['sampled slowest', formatMs(r.sampledSlowestMs)],
      );
      io.out(
        `${device.name} · ${r.space}${r.calibrated ? '' : ' (uncalibrated: no end-to-end measurements yet)'}`,
      );
      io.out(t.toString());
      io.out(`suggested budget: ${Number(r.suggestedBudgetMs.toPrecision(3))} ms`);
    });

  devices
    .command('wait')
    .description("Wait until a device's LUT covers a space and its calibration set is measured")
    .argument('<device>', 'device name or id')
    .requiredOption('--space <space>', 'space with its deployment geometry')
    .option('--no-calibration', 'wait for the LUT only')
    .action(async (ref: string, flags: { space: string; calibration: boolean }) => {
      const client = api();
      const device = await resolveDevice(client, ref);
      const lut = await waitForLut(client, device, flags.space, flags.calibration);
      io.out(
        `${device.name}: ${lut.space} ready (${lut.coverage?.total ?? 0} signatures, ${lut.calibrationSetMeasured} calibration networks)`,
      );
    });

  const keys = program
    .command('keys')
    .description(
      'User API keys kept by the API (they act for the same devices as the key that creates them)',
    );

  keys
    .command('create')
    .description('Create a key; it is printed once')
    .argument('<name>', 'what the key is for, e.g. ci-runner')
    .action(async (name: string) => {
      const key = await api().post<KeyView>('/v1/keys', { name });
      if (globals().json) return printJson(key);
      io.out(`created key ${key.id} (${key.name}); it is shown only now:`);
      io.out(`  ${key.key ?? ''}`);
    });

  keys
    .command('list')
    .description('Your keys, revoked ones included (never their secrets)')
    .action(async () => {
      const list = await api().get<KeyView[]>('/v1/keys');
      if (globals().json) return printJson(list);
      const when = (t: string | null) => (t === null ? '' : t.replace('T', ' ').slice(0, 19));
      const t = table(['id', 'name', 'source', 'created', 'last used', 'revoked'], colour);
      for (const k of list)
        t.push([
          k.current ? `${k.id} (this key)` : k.id,
          k.name,
          k.source,
          when(k.createdAt),
          when(k.lastUsedAt),
          when(k.revokedAt),
        ]);
      io.out(t.toString());
    });

  keys
    .command('revoke')
    .description('Revoke a key: refused from its next request on')
    .argument('<id>', 'key id (see keys list)')
    .action(async (id: string) => {
      const key = await api().delete<KeyView>(`/v1/keys/${encodeURIComponent(id)}`);
      if (globals().json) return printJson(key);
      io.out(`key ${key.id} (${key.name}) revoked at ${key.revokedAt ?? '?'}`);
    });

  addFinalModelCommands(program, {
    api,
    json: () => globals().json === true,
    interval: () => globals().interval,
    sleep,
    out: io.out,
    err: io.err,
    cwd: io.cwd,
    table: (head) => table(head, colour),
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ApiRequestError) {
      io.err(`edgenas: ${describeRefusal(err)} (HTTP ${err.status})`);
      return 1;
    }
    if (err instanceof CliError) {
      io.err(`edgenas: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}
