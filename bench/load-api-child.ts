/**
 * The API under load in its own process (started by bench/load.ts over IPC), so the load generator does not
 * share its event loop and the API's CPU time is its own. Listens on 127.0.0.1 only; request logs (pino JSON,
 * as in production) go to stdout, which the bench writes to a file.
 *
 *   fork('dist/bench/load-api-child.js', [JSON.stringify(LoadApiOptions)])
 */
import type { Level } from 'pino';
import { createApiApp } from '../apps/api/src/app';

export interface LoadApiOptions {
  readonly port: number;
  readonly databaseUrl: string;
  readonly apiKey: string;
  readonly temporalAddress: string;
  readonly dataDir: string;
  readonly logLevel: Level;
}

/** Parent → child: report CPU time so far, or close and exit. */
export type LoadApiRequest = { readonly kind: 'cpu' } | { readonly kind: 'close' };
/** Child → parent. */
export type LoadApiMessage =
  | { readonly kind: 'listening' }
  | {
      readonly kind: 'cpu';
      readonly userMicros: number;
      readonly systemMicros: number;
      readonly rssBytes: number;
    }
  | { readonly kind: 'failed'; readonly message: string };

function send(message: LoadApiMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LoadApiOptions;
  const app = await createApiApp({
    databaseUrl: opts.databaseUrl,
    apiKeys: [opts.apiKey],
    temporal: { address: opts.temporalAddress, namespace: 'default' },
    dataDir: opts.dataDir,
    logging: { level: opts.logLevel, pretty: false },
    // capacity is measured here, not the per-credential limit: one bench device sends what a fleet would
    rateLimit: { limit: 1_000_000_000, windowMs: 60_000 },
  });
  await app.listen(opts.port, '127.0.0.1');
  process.on('message', (request: LoadApiRequest) => {
    if (request.kind === 'cpu') {
      const cpu = process.cpuUsage();
      send({
        kind: 'cpu',
        userMicros: cpu.user,
        systemMicros: cpu.system,
        rssBytes: process.memoryUsage().rss,
      });
    } else {
      void app.close().then(() => process.exit(0));
    }
  });
  send({ kind: 'listening' });
}

main().catch((err: unknown) => {
  send({ kind: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
