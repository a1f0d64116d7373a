/**
 * What the benchmarks share about stand-alone trainings: a cache on disk keyed by what was trained (so an
 * interrupted run resumes and later runs reuse the trainings), a pool running a few at once, and the
 * stand-alone training of one architecture at one seed in a child process, as the worker runs it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROXY_28 } from '@edgenas/search-space';
import { ProxyTrainingResult, trainInChildProcess } from '@edgenas/proxy-trainer';

export function hashKey(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 24);
}

/** Runs `tasks` with at most `limit` at once, in order of submission. */
export async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, tasks.length) }, async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  });
  await Promise.all(workers);
  return results;
}

/** JSON values on disk by the hash of their key. */
export class Cache {
  constructor(
    private readonly dir: string,
    /** Report on what is cached; never compute (an interrupted run's figures so far). */
    private readonly cachedOnly = false,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  async json<T extends object>(
    key: unknown,
    compute: () => Promise<T>,
  ): Promise<(T & { cached?: boolean }) | undefined> {
    const file = this.file(`${hashKey(key)}.json`);
    if (fs.existsSync(file)) return { ...(JSON.parse(fs.readFileSync(file, 'utf8')) as T), cached: true };
    if (this.cachedOnly) return undefined;
    const value: T = await compute();
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(value));
    fs.renameSync(`${file}.tmp`, file);
    return { ...value, cached: false };
  }
}

export interface FashionMnistSubset {
  readonly kind: 'fashion-mnist';
  readonly trainSize: number;
  readonly valSize: number;
}

export interface StandaloneTraining {
  readonly accuracy: number;
  readonly wallTimeMs: number;
  readonly imagesPerSecond: number;
  readonly backend: string;
  readonly peakRssBytes: number;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/**
 * One stand-alone training of a proxy-28 architecture (compact string) at one seed, from the cache or in a
 * child process. The key (kind, architecture, seed, steps, batch, dataset, in this order) is the one every
 * cached training has had since bench:accuracy wrote the first ones: change it and they are all misses.
 */
export function standaloneTraining(
  cache: Cache,
  architecture: string,
  seed: number,
  budget: { readonly steps: number; readonly batchSize: number; readonly dataset: FashionMnistSubset },
): Promise<(StandaloneTraining & { cached?: boolean }) | undefined> {
  const { steps, batchSize, dataset } = budget;
  return cache.json<StandaloneTraining>(
    { kind: 'standalone', architecture, seed, steps, batch: batchSize, dataset },
    async () => {
      const r: ProxyTrainingResult = await trainInChildProcess({
        architecture,
        space: PROXY_28.name,
        dataset,
        epochs: 1,
        steps,
        batchSize,
        resolution: 28,
        seed,
      });
      process.stdout.write(
        `  trained ${architecture.slice(0, 40)}… seed ${seed}, ${steps} steps: ${pct(r.valAccuracy)} in ${(r.wallTimeMs / 1000).toFixed(0)} s (${r.backend.name})\n`,
      );
      return {
        accuracy: r.valAccuracy,
        wallTimeMs: r.wallTimeMs,
        imagesPerSecond: r.imagesPerSecond,
        backend: r.backend.name,
        peakRssBytes: r.peakRssBytes,
      };
    },
  );
}
