/**
 * NSGA-II vs random search, same seeds, same number of trained candidates, on Fashion-MNIST proxy training and
 * a LUT of this machine's CPU (benchmarked here by the device agent's harness in ONNX Runtime). Both run as real
 * NAS jobs: Temporal dev server, the worker's workflow and activities, SQLite. Prints the hypervolume of each
 * (reference: accuracy 0, latency = budget; normalised by the budget) and each job's wall time.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/search.ts [--candidates 40] [--population 8] …
 *   (or after `npm run build`: node dist/bench/search.js …)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { NAS_JOB_WORKFLOW, NasJobInput, NasJobResult, SearchStrategy, TASK_QUEUES } from '@edgenas/contracts';
import { getMacroConfig, withGeometry } from '@edgenas/search-space';
import { openStorage } from '@edgenas/storage';
import { createWorkers, runWorkers } from '../apps/worker/src/worker';
import { startTemporalDevServer } from '../test/support/temporal-server';
import { budgetFromLut, measureLut, registerBenchDevice } from './lut-budget';

interface Options {
  candidates: number;
  population: number;
  seeds: string;
  strategies: string;
  space: string;
  trainSize: number;
  valSize: number;
  steps: number;
  batchSize: number;
  budgetQuantile: number;
  trainingConcurrency: number;
  temporalPort: number;
}

async function main(): Promise<void> {
  const opts = new Command()
    .option('--candidates <n>', 'trained candidates per job (the same for every strategy)', Number, 40)
    .option('--population <n>', 'population / candidates trained per generation', Number, 8)
    .option('--seeds <list>', 'comma-separated seeds', '1')
    .option('--strategies <list>', 'strategies to compare', 'nsga2,random')
    .option('--space <name>', 'deployment space (macro config at its own geometry)', 'proxy-28')
    .option('--train-size <n>', 'Fashion-MNIST training subset', Number, 2000)
    .option('--val-size <n>', 'Fashion-MNIST validation subset', Number, 500)
    .option('--steps <n>', 'proxy-training steps per candidate', Number, 60)
    .option('--batch-size <n>', 'proxy-training batch size', Number, 32)
    .option('--budget-quantile <q>', 'latency budget = this quantile of random architectures', Number, 0.5)
    .option('--training-concurrency <n>', 'trainings at once', Number, Math.max(1, cpus().length - 1))
    .option('--temporal-port <n>', 'port of the Temporal dev server started for the run', Number, 7338)
    .parse(process.argv)
    .opts<Options>();

  const dir = mkdtempSync(join(tmpdir(), 'edgenas-bench-search-'));
  const storage = await openStorage(`sqlite:${join(dir, 'bench.db')}`);
  const temporal = await startTemporalDevServer(opts.temporalPort);
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  try {
    const base = getMacroConfig(opts.space);
    const config = withGeometry(base, {});
    let t0 = Date.now();
    const rows = await measureLut(config);
    const deviceId = await registerBenchDevice(storage, rows);
    console.log(
      `LUT: ${rows.length} signatures of ${config.name} benchmarked in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    const { budgetMs, minMs, maxMs } = await budgetFromLut(storage, deviceId, config, opts.budgetQuantile);
    console.log(
      `latency budget ${budgetMs.toFixed(3)} ms (q${opts.budgetQuantile} of 200 random architectures; ` +
        `min ${minMs.toFixed(3)}, max ${maxMs.toFixed(3)})`,
    );

    const connection = await NativeConnection.connect({ address: temporal.address });
    const workers = await createWorkers({
      connection,
      namespace: temporal.namespace,
      queues: ['light', 'training'],
      trainingConcurrency: opts.trainingConcurrency,
      deps: { db: storage.handle.db, dataDir: join(dir, 'data'), verificationTimeoutMs: 1000 },
    });
    const running = runWorkers(workers);
    const clientConnection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection: clientConnection, namespace: temporal.namespace });

    const results: { strategy: string; seed: number; result: NasJobResult; wallS: number }[] = [];
    try {
      for (const seed of opts.seeds.split(',').map(Number)) {
        for (const strategy of opts.strategies.split(',') as SearchStrategy[]) {
          const input: NasJobInput = {
            jobId: `bench-${strategy}-${seed}-${randomUUID().slice(0, 8)}`,
            deviceIds: [deviceId],
            latencyBudgetMs: budgetMs,
            space: opts.space,
            input: config.input,
            classes: config.classes,
            proxy: {
              dataset: { kind: 'fashion-mnist', trainSize: opts.trainSize, valSize: opts.valSize },
              epochs: 1,
              steps: opts.steps,
              batchSize: opts.batchSize,
              resolution: 28,
            },
            budget: {
              generations: Math.ceil(opts.candidates / opts.population) + 5,
              population: opts.population,
              maxTrainedCandidates: opts.candidates,
              wallClockSeconds: 24 * 3600,
            },
            strategy,
            seed,
          };
          await storage.jobs.create(input);
          t0 = Date.now();
          const result = await client.workflow.execute<(i: NasJobInput) => Promise<NasJobResult>>(
            NAS_JOB_WORKFLOW,
            {
              taskQueue: TASK_QUEUES.light,
              workflowId: input.jobId,
              args: [input],
            },
          );
          const wallS = (Date.now() - t0) / 1000;
          results.push({ strategy, seed, result, wallS });
          console.log(
            `${strategy.padEnd(9)} seed ${seed}: trained ${result.trained}, front ${result.front.length}, ` +
              `hypervolume ${result.hypervolume.toFixed(4)}, wall ${wallS.toFixed(1)} s ` +
              `(${(wallS / Math.max(1, result.trained)).toFixed(1)} s per trained candidate)`,
          );
        }
      }
    } finally {
      workers.forEach((w) => w.shutdown());
      await running;
      await clientConnection.close();
      await connection.close();
    }

    console.log('\nmean hypervolume per strategy (same seeds, same trained-candidate count):');
    const mean = (s: string): number => {
      const xs = results.filter((r) => r.strategy === s).map((r) => r.result.hypervolume);
      return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    };
    for (const s of opts.strategies.split(',')) {
      const wall = results.filter((r) => r.strategy === s).map((r) => r.wallS);
      console.log(
        `  ${s.padEnd(9)} ${mean(s).toFixed(4)}   mean wall ${(wall.reduce((a, b) => a + b, 0) / wall.length).toFixed(1)} s`,
      );
    }
    if (opts.strategies.includes('nsga2') && opts.strategies.includes('random') && mean('random') > 0) {
      console.log(`  nsga2 / random hypervolume ratio: ${(mean('nsga2') / mean('random')).toFixed(3)}`);
    }
  } finally {
    await temporal.stop();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
