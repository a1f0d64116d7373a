/**
 * Runtime configuration: one schema for every environment variable the apps read, validated once at
 * start-up. Pure: the environment comes in as an argument (each app's `main.ts` hands in `process.env`), so
 * no library reads `process.env` and every rule here is unit-testable.
 */
import { delimiter, join } from 'node:path';
import { z } from 'zod';

export const CONFIG_DEFAULTS = {
  port: 3000,
  temporalAddress: 'localhost:7233',
  temporalNamespace: 'default',
  dataDir: '.edgenas',
  /** Per API key or device token; far above what an agent's uploads or the dashboard's polling make. */
  rateLimitPerMinute: 1200,
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/** Configuration that cannot work; the message names every offending variable and why. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly { readonly variable: string; readonly reason: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable} ${i.reason}`).join('; ')}`);
  }
}

/** Set means set: an empty or blank value is an error, not the default (unset the variable for that). */
const text = z
  .string()
  .trim()
  .min(1, { message: 'must not be empty (unset it for the default)', abort: true });

const port = text
  .regex(/^\d+$/, { message: 'must be a TCP port (1–65535)', abort: true })
  .transform(Number)
  .refine((n) => n >= 1 && n <= 65535, {
    message: 'must be a TCP port (1–65535)',
  });

const hostPort = text.regex(/^[^\s/:]+:\d{1,5}$/, 'must be host:port (e.g. localhost:7233)');

const httpUrl = text.regex(/^https?:\/\/[^\s/]+/, 'must be an http(s) URL');

const positiveMinutes = text
  .transform(Number)
  .refine((n) => Number.isFinite(n) && n > 0, { message: 'must be a positive number of minutes' });

const positiveInteger = text
  .regex(/^\d+$/, { message: 'must be a positive integer', abort: true })
  .transform(Number)
  .refine((n) => n >= 1 && Number.isSafeInteger(n), { message: 'must be a positive integer' });

/** Folders separated by the platform's path delimiter (`:`; `;` on Windows); blank entries are errors. */
const folderList = text.transform((v, ctx) => {
  const folders = v.split(delimiter).map((f) => f.trim());
  if (folders.some((f) => f.length === 0)) {
    ctx.addIssue({ code: 'custom', message: `must list folders separated by "${delimiter}", none blank` });
    return z.NEVER;
  }
  return folders;
});

/** Comma-separated keys; empty means "none given" (the API then generates one). */
const keyList = z.string().transform((v) =>
  v
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0),
);

/** Every variable, with its rule. Apps pick the ones they read. */
export const ENV_SCHEMA = z.object({
  PORT: port.optional(),
  DATABASE_URL: text.optional(),
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: text.optional(),
  EDGENAS_DATA_DIR: text.optional(),
  EDGENAS_DATASETS_DIR: folderList.optional(),
  EDGENAS_API_KEYS: keyList.optional(),
  EDGENAS_CALIBRATION_REFRESH_MINUTES: positiveMinutes.optional(),
  EDGENAS_RATE_LIMIT_PER_MINUTE: positiveInteger.optional(),
  EDGENAS_API_URL: httpUrl.optional(),
  EDGENAS_API_KEY: text.optional(),
  EDGENAS_AGENT_CLOCK: z.enum(['wall', 'cpu'], { message: 'must be wall or cpu' }).optional(),
  EDGENAS_AGENT_PRECISION: z.enum(['fp32', 'int8'], { message: 'must be fp32 or int8' }).optional(),
  EDGENAS_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], {
      message: 'must be one of fatal, error, warn, info, debug, trace',
    })
    .optional(),
  EDGENAS_LOG_FORMAT: z.enum(['json', 'pretty'], { message: 'must be json or pretty' }).optional(),
});

export type EnvVariable = keyof typeof ENV_SCHEMA.shape;

function parse<K extends EnvVariable>(env: Env, keys: readonly K[]): z.output<typeof ENV_SCHEMA> {
  const picked: Record<string, string | undefined> = {};
  for (const k of keys) picked[k] = env[k];
  const result = ENV_SCHEMA.safeParse(picked);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const variable = String(i.path[0] ?? '(environment)');
        return { variable, reason: `${i.message}, got "${picked[variable] ?? ''}"` };
      }),
    );
  }
  return result.data;
}

export interface TemporalConfig {
  readonly address: string;
  readonly namespace: string;
  /** Whether TEMPORAL_ADDRESS was set (the launcher then starts no dev server). */
  readonly addressGiven: boolean;
}

function temporalOf(v: { TEMPORAL_ADDRESS?: string; TEMPORAL_NAMESPACE?: string }): TemporalConfig {
  return {
    address: v.TEMPORAL_ADDRESS ?? CONFIG_DEFAULTS.temporalAddress,
    namespace: v.TEMPORAL_NAMESPACE ?? CONFIG_DEFAULTS.temporalNamespace,
    addressGiven: v.TEMPORAL_ADDRESS !== undefined,
  };
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** pino level (default info) and line format (default json; `npm start` sets pretty for its console). */
export interface LogConfig {
  readonly level: LogLevel;
  readonly format: 'json' | 'pretty';
}

function logOf(v: { EDGENAS_LOG_LEVEL?: LogLevel; EDGENAS_LOG_FORMAT?: 'json' | 'pretty' }): LogConfig {
  return { level: v.EDGENAS_LOG_LEVEL ?? 'info', format: v.EDGENAS_LOG_FORMAT ?? 'json' };
}

/**
 * The dataset roots: image-folder datasets must lie under one of them (after symlinks are resolved); relative
 * dataset paths resolve against the first. Default `<dataDir>/datasets`.
 */
function datasetsDirsOf(v: { EDGENAS_DATA_DIR?: string; EDGENAS_DATASETS_DIR?: string[] }): string[] {
  return v.EDGENAS_DATASETS_DIR ?? [join(v.EDGENAS_DATA_DIR ?? CONFIG_DEFAULTS.dataDir, 'datasets')];
}

export interface ApiConfig {
  readonly port: number;
  /** Unset: storage's default SQLite file. */
  readonly databaseUrl?: string;
  readonly temporal: TemporalConfig;
  /** Empty: none given. */
  readonly apiKeys: readonly string[];
  readonly calibrationRefreshMinutes?: number;
  readonly dataDir: string;
  /** Dataset roots (EDGENAS_DATASETS_DIR, default `<dataDir>/datasets`); uploads go to the first. */
  readonly datasetsDirs: readonly string[];
  readonly log: LogConfig;
  /** Requests per minute per API key, device token or (without credentials) client address. */
  readonly rateLimitPerMinute: number;
}

export function apiConfig(env: Env): ApiConfig {
  const v = parse(env, [
    'PORT',
    'DATABASE_URL',
    'TEMPORAL_ADDRESS',
    'TEMPORAL_NAMESPACE',
    'EDGENAS_API_KEYS',
    'EDGENAS_CALIBRATION_REFRESH_MINUTES',
    'EDGENAS_DATA_DIR',
    'EDGENAS_DATASETS_DIR',
    'EDGENAS_LOG_LEVEL',
    'EDGENAS_LOG_FORMAT',
    'EDGENAS_RATE_LIMIT_PER_MINUTE',
  ]);
  return {
    port: v.PORT ?? CONFIG_DEFAULTS.port,
    databaseUrl: v.DATABASE_URL,
    temporal: temporalOf(v),
    apiKeys: v.EDGENAS_API_KEYS ?? [],
    calibrationRefreshMinutes: v.EDGENAS_CALIBRATION_REFRESH_MINUTES,
    dataDir: v.EDGENAS_DATA_DIR ?? CONFIG_DEFAULTS.dataDir,
    datasetsDirs: datasetsDirsOf(v),
    log: logOf(v),
    rateLimitPerMinute: v.EDGENAS_RATE_LIMIT_PER_MINUTE ?? CONFIG_DEFAULTS.rateLimitPerMinute,
  };
}

export interface WorkerConfig {
  readonly databaseUrl?: string;
  readonly temporal: TemporalConfig;
  readonly dataDir: string;
  /** Dataset roots (EDGENAS_DATASETS_DIR, default `<dataDir>/datasets`), checked again before reading. */
  readonly datasetsDirs: readonly string[];
  readonly calibrationRefreshMinutes?: number;
  readonly log: LogConfig;
}

export function workerConfig(env: Env): WorkerConfig {
  const v = parse(env, [
    'DATABASE_URL',
    'TEMPORAL_ADDRESS',
    'TEMPORAL_NAMESPACE',
    'EDGENAS_DATA_DIR',
    'EDGENAS_DATASETS_DIR',
    'EDGENAS_CALIBRATION_REFRESH_MINUTES',
    'EDGENAS_LOG_LEVEL',
    'EDGENAS_LOG_FORMAT',
  ]);
  return {
    databaseUrl: v.DATABASE_URL,
    temporal: temporalOf(v),
    dataDir: v.EDGENAS_DATA_DIR ?? CONFIG_DEFAULTS.dataDir,
    datasetsDirs: datasetsDirsOf(v),
    calibrationRefreshMinutes: v.EDGENAS_CALIBRATION_REFRESH_MINUTES,
    log: logOf(v),
  };
}

export interface AgentConfig {
  /** EDGENAS_API_URL, else the local API on PORT. */
  readonly apiUrl: string;
  readonly apiKey?: string;
  readonly dataDir: string;
  readonly clock?: 'wall' | 'cpu';
  /** The device profile's precision (EDGENAS_AGENT_PRECISION); unset: fp32. */
  readonly precision?: 'fp32' | 'int8';
}

export function agentConfig(env: Env): AgentConfig {
  const v = parse(env, [
    'PORT',
    'EDGENAS_API_URL',
    'EDGENAS_API_KEY',
    'EDGENAS_DATA_DIR',
    'EDGENAS_AGENT_CLOCK',
    'EDGENAS_AGENT_PRECISION',
  ]);
  return {
    apiUrl: v.EDGENAS_API_URL ?? `http://localhost:${v.PORT ?? CONFIG_DEFAULTS.port}`,
    apiKey: v.EDGENAS_API_KEY,
    dataDir: v.EDGENAS_DATA_DIR ?? CONFIG_DEFAULTS.dataDir,
    clock: v.EDGENAS_AGENT_CLOCK,
    precision: v.EDGENAS_AGENT_PRECISION,
  };
}

export interface LauncherConfig {
  /** Unset when PORT is not set (flags may still set it). */
  readonly port?: number;
  readonly databaseUrl?: string;
  readonly temporal: TemporalConfig;
  readonly dataDir?: string;
  readonly apiKeys: readonly string[];
}

/** The shared variables the launcher reads; its own (switches, dev-server ports, agent name) stay beside it. */
export function launcherConfig(env: Env): LauncherConfig {
  const v = parse(env, [
    'PORT',
    'DATABASE_URL',
    'TEMPORAL_ADDRESS',
    'TEMPORAL_NAMESPACE',
    'EDGENAS_DATA_DIR',
    'EDGENAS_API_KEYS',
  ]);
  return {
    port: v.PORT,
    databaseUrl: v.DATABASE_URL,
    temporal: temporalOf(v),
    dataDir: v.EDGENAS_DATA_DIR,
    apiKeys: v.EDGENAS_API_KEYS ?? [],
  };
}
