import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CliError } from './api';

/** `jobs submit` flags that shape the request (each overrides the file's field). */
export interface JobFlags {
  readonly device?: readonly string[];
  readonly space?: string;
  readonly input?: string;
  readonly classes?: number;
  readonly budgetMs?: string;
  readonly preset?: string;
  readonly dataset?: string;
  readonly mode?: string;
  readonly strategy?: string;
  readonly precision?: string;
  readonly seed?: number;
  readonly generations?: number;
  readonly population?: number;
}

export type JobRequest = Record<string, unknown>;

/** A job request file: JSON or YAML (YAML reads JSON too), one object. */
export function readJobFile(path: string): JobRequest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, 2);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new CliError(`${path} is neither JSON nor YAML: ${(err as Error).message}`, 2);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CliError(`${path} must hold one job request object`, 2);
  return parsed as JobRequest;
}

function object(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? { ...(value as object) } : {};
}

/**
 * The request body from a file (or nothing) and flags, flags winning field by field. Devices stay as given
 * (names or ids) and a `suggested` budget stays a string: the caller resolves both against the API.
 */
export function buildJobRequest(file: JobRequest | undefined, flags: JobFlags): JobRequest {
  const body: JobRequest = { ...(file ?? {}) };
  if (flags.device && flags.device.length > 0) body.deviceIds = [...flags.device];
  if (flags.space !== undefined) body.space = flags.space;
  if (flags.input !== undefined) {
    const m = /^(\d+)x(\d+)x(\d+)$/.exec(flags.input);
    if (!m) throw new CliError(`--input must be HxWxC, e.g. 96x96x3 (got "${flags.input}")`, 2);
    body.input = { height: Number(m[1]), width: Number(m[2]), channels: Number(m[3]) };
  }
  if (flags.classes !== undefined) body.classes = flags.classes;
  if (flags.budgetMs !== undefined) {
    if (flags.budgetMs === 'suggested') body.latencyBudgetMs = 'suggested';
    else {
      const ms = Number(flags.budgetMs);
      if (!Number.isFinite(ms) || ms <= 0)
        throw new CliError(
          `--budget-ms must be a positive number of ms or "suggested" (got "${flags.budgetMs}")`,
          2,
        );
      body.latencyBudgetMs = ms;
    }
  }
  if (flags.preset !== undefined) body.preset = flags.preset;
  if (flags.strategy !== undefined) body.strategy = flags.strategy;
  if (flags.precision !== undefined) body.precision = flags.precision;
  if (flags.seed !== undefined) body.seed = flags.seed;
  if (flags.dataset !== undefined) {
    const proxy = object(body.proxy);
    proxy.dataset = { ...object(proxy.dataset), kind: flags.dataset };
    body.proxy = proxy;
  }
  if (flags.mode !== undefined) body.evaluation = { ...object(body.evaluation), mode: flags.mode };
  if (flags.generations !== undefined || flags.population !== undefined) {
    const budget = object(body.budget);
    if (flags.generations !== undefined) budget.generations = flags.generations;
    if (flags.population !== undefined) budget.population = flags.population;
    body.budget = budget;
  }
  if (!Array.isArray(body.deviceIds) || body.deviceIds.length === 0)
    throw new CliError('a job needs a target device: --device <name or id> (or deviceIds in the file)', 2);
  if (body.space === undefined)
    throw new CliError('a job needs a space: --space, e.g. fbnet-224@96x96x3-c10', 2);
  if (body.latencyBudgetMs === undefined)
    throw new CliError('a job needs a latency budget: --budget-ms <ms>, or --budget-ms suggested', 2);
  return body;
}
