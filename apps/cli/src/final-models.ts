/** `edgenas final …`: final training of a job's architecture, its progress, model card and files. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Table from 'cli-table3';
import { Command, InvalidArgumentError } from 'commander';
import { ModelCard, TERMINAL_FINAL_MODEL_STATUSES } from '@edgenas/contracts';
import { CliError, EdgenasApi } from './api';
import { FinalModelView } from './views';

export interface FinalCommandContext {
  readonly api: () => EdgenasApi;
  readonly json: () => boolean;
  readonly interval: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly cwd: string;
  readonly table: (head: string[]) => Table.Table;
}

interface TrainFlags {
  steps?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  crop: boolean;
  flip?: boolean;
  seed?: number;
  distill?: boolean;
  teacher?: string;
  temperature?: number;
  alpha?: number;
  calibration?: number;
  floatOnly?: boolean;
  wait?: boolean;
}

function number(name: string, min: number, max: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(
        `${name} must be ${integer ? 'an integer' : 'a number'} in ${min}–${max}`,
      );
    return n;
  };
}

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)} %`;
const kb = (bytes: number | undefined) => (bytes === undefined ? '–' : `${(bytes / 1024).toFixed(0)} KiB`);

/** The body of POST …/final-training from the flags (unset flags: the API's defaults). */
export function finalTrainingBody(f: TrainFlags): Record<string, unknown> {
  const distill =
    f.distill || f.teacher !== undefined || f.temperature !== undefined || f.alpha !== undefined;
  return {
    ...(f.steps !== undefined ? { steps: f.steps } : {}),
    ...(f.epochs !== undefined ? { epochs: f.epochs } : {}),
    ...(f.batchSize !== undefined ? { batchSize: f.batchSize } : {}),
    ...(f.lr !== undefined ? { learningRate: f.lr } : {}),
    augmentation: { crop: f.crop, flip: f.flip === true },
    ...(f.seed !== undefined ? { seed: f.seed } : {}),
    ...(distill
      ? {
          distillation: {
            ...(f.teacher !== undefined ? { teacher: f.teacher } : {}),
            ...(f.temperature !== undefined ? { temperature: f.temperature } : {}),
            ...(f.alpha !== undefined ? { weight: f.alpha } : {}),
          },
        }
      : {}),
    ...(f.calibration !== undefined ? { calibrationImages: f.calibration } : {}),
    ...(f.floatOnly ? { precisions: ['float32'] } : {}),
  };
}

/** The card in a few lines: accuracy and size of both files, geometry, latency, teacher, warnings. */
export function describeCard(card: ModelCard): string[] {
  const lines = [
    `  ${card.architecture}`,
    `  trained ${card.training.steps} steps on ${card.dataset.name} at ${card.geometry.trained} (${card.training.backend}` +
      `${card.training.resumedFromStep > 0 ? `, resumed from step ${card.training.resumedFromStep}` : ''})`,
    `  float: top-1 ${pct(card.accuracy.float)}, ${kb(card.files.float.bytes)}` +
      (card.files.int8
        ? ` · INT8 (${card.quantization?.method}): top-1 ${pct(card.accuracy.int8)}, ${kb(card.files.int8.bytes)}`
        : ' · no INT8 file'),
    `  on ${card.accuracy.evaluatedImages} validation images in ONNX Runtime; ${(card.macs / 1e6).toFixed(2)} M MACs, ` +
      `${(card.params / 1e3).toFixed(1)} k params`,
  ];
  const latency = Object.entries(card.predictedLatencyMs);
  if (latency.length > 0)
    lines.push(
      `  predicted float latency at ${card.geometry.deployment}: ${latency.map(([d, ms]) => `${ms.toFixed(3)} ms on ${d}`).join(', ')}`,
    );
  const measured = card.measuredLatencyMs;
  if (measured) {
    const devices = [...new Set([...Object.keys(measured.float), ...Object.keys(measured.int8 ?? {})])];
    const ms = (x: number | undefined) => (x === undefined ? 'not measured' : `${x.toFixed(3)} ms`);
    for (const d of devices)
      lines.push(
        `  measured on ${d} at ${measured.geometry}: float ${ms(measured.float[d])}` +
          (measured.int8 ? `, INT8 ${ms(measured.int8[d])}` : ''),
      );
    if (devices.length === 0) lines.push('  not measured on any device (see the warnings)');
  }
  if (card.distillation)
    lines.push(
      `  distilled from ${card.distillation.teacherArchitectureId} (${card.distillation.teacherSource}, ` +
        `${card.distillation.teacherTrained}, top-1 ${pct(card.distillation.teacherAccuracy)}), T ${card.distillation.temperature}, ` +
        `α ${card.distillation.weight}`,
    );
  for (const w of card.warnings) lines.push(`  warning: ${w}`);
  return lines;
}

export function addFinalModelCommands(program: Command, ctx: FinalCommandContext): void {
  const path = (job: string, rest = '') => `/v1/jobs/${encodeURIComponent(job)}${rest}`;

  async function watch(client: EdgenasApi, job: string, id: string): Promise<FinalModelView> {
    let last = '';
    for (;;) {
      const view = await client.get<FinalModelView>(path(job, `/final-models/${encodeURIComponent(id)}`));
      const p = view.progress;
      const line = p
        ? `${view.status}: ${p.phase}${p.totalSteps > 0 ? ` ${p.step}/${p.totalSteps}` : ''}`
        : view.status;
      if (line !== last) ctx.err(`final model ${id}: ${line}`);
      last = line;
      if (TERMINAL_FINAL_MODEL_STATUSES.includes(view.status)) {
        if (view.status === 'failed')
          throw new CliError(`final model ${id} failed: ${view.error ?? 'no reason recorded'}`);
        if (view.status === 'cancelled') throw new CliError(`final model ${id} was cancelled`);
        return view;
      }
      await ctx.sleep(ctx.interval());
    }
  }

  const final = program.command('final').description('Deployable models: final training, INT8, model card');

  final
    .command('train')
    .description("Train a job's architecture for deployment (float and INT8 files, model card)")
    .argument('<job>', 'job id (a completed job)')
    .argument('<architectureId>', 'architecture id of the job (see jobs pareto)')
    .option('--steps <n>', 'training steps (default: 10 epochs)', number('--steps', 1, 1e7, true))
    .option('--epochs <n>', 'epochs over the training split', number('--epochs', 1, 1e4, true))
    .option('--batch-size <n>', 'batch size (default 64)', number('--batch-size', 1, 1024, true))
    .option('--lr <x>', 'peak learning rate (default Adam 1e-2, cosine)', number('--lr', 1e-6, 1))
    .option('--no-crop', 'no random crop (on by default)')
    .option('--flip', 'random horizontal flip')
    .option('--seed <n>', "seed (default: the job's)", number('--seed', 0, 2 ** 31 - 1, true))
    .option('--distill', "distil from the job's most accurate finalist")
    .option('--teacher <architectureId>', 'distil from this architecture of the job')
    .option('--temperature <T>', 'distillation temperature (default 4)', number('--temperature', 1, 50))
    .option('--alpha <a>', 'weight of the distillation term (default 0.5)', number('--alpha', 0, 1))
    .option(
      '--calibration <n>',
      'INT8 calibration images (default 256)',
      number('--calibration', 2, 1e5, true),
    )
    .option('--float-only', 'no INT8 file')
    .option('--wait', 'wait until it is done, then print the card')
    .action(async (job: string, arch: string, flags: TrainFlags) => {
      const client = ctx.api();
      const created = await client.post<FinalModelView>(
        path(job, `/architectures/${encodeURIComponent(arch)}/final-training`),
        finalTrainingBody(flags),
      );
      if (ctx.json() && !flags.wait) return ctx.out(JSON.stringify(created, null, 2));
      ctx.out(`final model ${created.id} started (${created.status})`);
      if (!flags.wait) {
        ctx.out(`  follow: edgenas final show ${job} ${created.id}`);
        return;
      }
      const done = await watch(client, job, created.id);
      if (ctx.json()) return ctx.out(JSON.stringify(done, null, 2));
      for (const line of describeCard(done.card as ModelCard)) ctx.out(line);
      ctx.out(`files: edgenas final download ${job} ${created.id} [--int8]`);
    });

  final
    .command('list')
    .description("A job's final models")
    .argument('<job>', 'job id')
    .action(async (job: string) => {
      const list = await ctx.api().get<FinalModelView[]>(path(job, '/final-models'));
      if (ctx.json()) return ctx.out(JSON.stringify(list, null, 2));
      if (list.length === 0)
        return ctx.out(`no final models yet: edgenas final train ${job} <architecture id>`);
      const t = ctx.table(['id', 'architecture id', 'status', 'float top-1', 'INT8 top-1', 'float', 'INT8']);
      for (const m of list) {
        const p = m.progress;
        t.push([
          m.id,
          m.architectureId,
          m.status === 'running' && p ? `${p.phase} ${p.step}/${p.totalSteps}` : m.status,
          pct(m.card?.accuracy.float),
          pct(m.card?.accuracy.int8),
          kb(m.card?.files.float.bytes),
          kb(m.card?.files.int8?.bytes),
        ]);
      }
      ctx.out(t.toString());
    });

  final
    .command('show')
    .description('A final model: status, progress, model card')
    .argument('<job>', 'job id')
    .argument('<finalId>', 'final model id')
    .action(async (job: string, id: string) => {
      const view = await ctx.api().get<FinalModelView>(path(job, `/final-models/${encodeURIComponent(id)}`));
      if (ctx.json()) return ctx.out(JSON.stringify(view, null, 2));
      const p = view.progress;
      ctx.out(
        `final model ${view.id} of ${view.architectureId}: ${view.status}` +
          (view.status === 'running' && p ? ` (${p.phase} ${p.step}/${p.totalSteps})` : '') +
          (view.error ? ` (${view.error})` : ''),
      );
      if (view.card) for (const line of describeCard(view.card)) ctx.out(line);
    });

  final
    .command('download')
    .description("Download a final model's ONNX file")
    .argument('<job>', 'job id')
    .argument('<finalId>', 'final model id')
    .option('--int8', 'the INT8 file (default: float)')
    .option('-o, --out <file>', 'output file (default <finalId>.onnx or <finalId>.int8.onnx)')
    .action(async (job: string, id: string, flags: { int8?: boolean; out?: string }) => {
      const name = flags.int8 ? 'model.int8.onnx' : 'model.onnx';
      const bytes = await ctx.api().download(path(job, `/final-models/${encodeURIComponent(id)}/${name}`));
      const out = resolve(ctx.cwd, flags.out ?? `${id}${flags.int8 ? '.int8' : ''}.onnx`);
      writeFileSync(out, bytes);
      ctx.out(`wrote ${out} (${bytes.length} bytes)`);
    });
}
