import { ApiKeys } from './api-key';
import { LaunchConfig, apiBaseUrl } from './config';

/**
 * A first job for the local CPU: the proxy-28 space deployed as is (Fashion-MNIST, 28×28×1, 10 classes),
 * whose LUT the local agent measures first, with a budget that splits random proxy-28 architectures roughly
 * in half on a 2-core x86 machine (predicted 0.12–0.19 ms there). Small enough to finish in minutes.
 */
export function firstJobBody(deviceId: string): Record<string, unknown> {
  return {
    deviceIds: [deviceId],
    latencyBudgetMs: 0.15,
    space: 'proxy-28',
    proxy: { dataset: { kind: 'fashion-mnist', trainSize: 2000, valSize: 500 }, epochs: 1, batchSize: 64 },
    budget: { generations: 3, population: 6, maxTrainedCandidates: 18, wallClockSeconds: 900 },
    strategy: 'nsga2',
    seed: 1,
  };
}

/** Shell lines a user can paste: find the local device, submit the first job, watch it. */
export function firstJobCurl(config: LaunchConfig, apiKey: string): string {
  const base = apiBaseUrl(config);
  const body = JSON.stringify(firstJobBody('DEVICE_ID')).replace('"DEVICE_ID"', `"'"$DEVICE"'"`);
  return [
    `KEY=${apiKey}`,
    `DEVICE=$(curl -s ${base}/v1/devices -H "Authorization: Bearer $KEY" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).find((d) => d.name === "${config.agent.name}").id')`,
    `JOB=$(curl -s -X POST ${base}/v1/jobs -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\`,
    `  -d '${body}' | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).id')`,
    `curl -s ${base}/v1/jobs/$JOB -H "Authorization: Bearer $KEY"`,
    `curl -s ${base}/v1/jobs/$JOB/pareto -H "Authorization: Bearer $KEY"`,
  ].join('\n');
}

/** Which backend trainings use, and why (see probeTrainingBackend). */
export interface TrainingBackendLine {
  readonly name: string;
  readonly reason: string;
}

/** The banner printed once everything answers. Its first line contains "EdgeNAS ready" (tests wait for it). */
export function ready(
  config: LaunchConfig,
  keys: ApiKeys,
  opts: { colour: boolean; training?: TrainingBackendLine },
): string {
  const bold = (s: string) => (opts.colour ? `\u001b[1m${s}\u001b[0m` : s);
  const base = apiBaseUrl(config);
  const lines: string[] = ['', bold('EdgeNAS ready'), ''];
  if (config.api.enabled) {
    lines.push(`  API               ${base}/v1`, `  OpenAPI docs      ${base}/docs`);
  }
  const t = config.temporal;
  if (t.kind === 'dev-server') {
    lines.push(`  Temporal          ${t.address} (dev server, data in ${t.dbFile})`);
    if (t.uiPort !== null) lines.push(`  Temporal UI       http://localhost:${t.uiPort}`);
  } else if (t.kind === 'external') {
    lines.push(`  Temporal          ${t.address} (TEMPORAL_ADDRESS)`);
  }
  if (config.api.enabled) lines.push(`  Database          ${config.api.databaseUrl}`);
  const keyNote =
    keys.source === 'env'
      ? 'from EDGENAS_API_KEYS'
      : `${keys.source === 'generated' ? 'new, ' : ''}kept in ${keys.file}`;
  lines.push(`  API key           ${keys.primary} (${keyNote})`);
  lines.push(
    `  Parts             ${[config.api.enabled && 'api', config.worker.enabled && 'worker', config.agent.enabled && `agent "${config.agent.name}" (${config.agent.spaces.join(', ')})`].filter(Boolean).join(', ') || 'none'}`,
  );
  if (opts.training) lines.push(`  Training backend  ${opts.training.name} (${opts.training.reason})`);
  if (config.api.enabled && config.agent.enabled) {
    lines.push(
      '',
      `The local agent is now profiling this CPU (block latencies for ${config.agent.spaces.join(', ')}); a job can`,
      'start once the LUT covers its space (proxy-28 takes about a minute). Too tight a budget is answered with',
      '422 and the fastest achievable latency. A first job (paste into a shell):',
      '',
      ...firstJobCurl(config, keys.primary)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}
