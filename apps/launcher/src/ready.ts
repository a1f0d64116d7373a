import { ApiKeys } from './api-key';
import { FIRST_JOB_SPACE, LaunchConfig, apiBaseUrl, localAgents } from './config';

/**
 * A first job for the local CPU, with the CLI: wait (with progress) until the agent has measured the LUT and
 * the calibration set of the deployment geometry, look at the latencies the space offers, then submit with
 * the median as the budget (about half of random architectures fit) and the quick preset, and wait for the
 * front. Every step that cannot go on says why and exits non-zero.
 */
export function firstJobCommands(config: LaunchConfig, apiKey: string): string {
  // the first local agent's device (fp32 unless only int8 is started); an int8 device takes an int8 job
  const agent = localAgents(config.agent)[0];
  const device = agent.name;
  const precision = agent.precision === 'fp32' ? '' : ` --precision ${agent.precision}`;
  const space = FIRST_JOB_SPACE;
  return [
    `export EDGENAS_API_URL=${apiBaseUrl(config)} EDGENAS_API_KEY=${apiKey}`,
    `npx edgenas devices wait ${device} --space ${space}`,
    `npx edgenas devices latency-range ${device} --space ${space}`,
    `npx edgenas jobs submit --device ${device} --space ${space}${precision} --budget-ms suggested \\`,
    `  --preset quick --dataset fashion-mnist --wait`,
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
    lines.push(
      `  API               ${base}/v1`,
      `  Dashboard         ${base}/ui`,
      `  OpenAPI docs      ${base}/docs`,
      `  Health, metrics   ${base}/health/ready, ${base}/metrics`,
    );
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
    `  Parts             ${
      [
        config.api.enabled && 'api',
        config.worker.enabled && 'worker',
        config.agent.enabled &&
          `${localAgents(config.agent)
            .map((a) => `agent "${a.name}"${a.precision === 'fp32' ? '' : ` (${a.precision})`}`)
            .join(', ')} (${config.agent.spaces.join(', ')})`,
      ]
        .filter(Boolean)
        .join(', ') || 'none'
    }`,
  );
  if (opts.training) lines.push(`  Training backend  ${opts.training.name} (${opts.training.reason})`);
  if (config.api.enabled && config.agent.enabled) {
    lines.push(
      '',
      `The local agent is now profiling this CPU (block latencies, then whole networks for calibration, for`,
      `${config.agent.spaces.join(', ')}). A first job, from the CLI, once that is done (paste into a shell):`,
      '',
      ...firstJobCommands(config, keys.primary)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}
