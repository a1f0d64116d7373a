import { CalibrationWorkItem, DeviceProfile, spaceSignatures } from '@edgenas/latency-predictor';
import {
  BlockSignature,
  MacroConfig,
  parseArchitecture,
  resolveSpaceName,
  signatureKey,
} from '@edgenas/search-space';
import {
  ApiClient,
  ApiError,
  ApiUnreachableError,
  DEFAULT_RETRY,
  RetryOptions,
  withRetry,
} from './api-client';
import {
  ARCHITECTURE_CHUNK,
  ArchitectureToMeasure,
  BenchmarkOptions,
  benchmarkArchitectures,
  benchmarkSignatures,
} from './benchmark/runner';
import { Log, Progress, createProgress } from './progress';
import { AgentStore, RegisteredDevice } from './store';
import { syncPending } from './sync';

/** A problem the user must fix (bad flag, missing key, state of another device): printed without a stack. */
export class AgentUsageError extends Error {
  override name = 'AgentUsageError';
}

export interface AgentContext {
  readonly store: AgentStore;
  readonly profile: DeviceProfile;
  /** API base URL, e.g. http://localhost:3000. */
  readonly apiUrl: string;
  /** User API key, needed once to register the device. */
  readonly apiKey?: string;
  readonly spaces: readonly MacroConfig[];
  readonly benchmark: BenchmarkOptions;
  /** Measure the calibration work the server hands out (calibration set, reference networks); default true. */
  readonly calibrate?: boolean;
  readonly retry?: RetryOptions;
  readonly log: Log;
  readonly progress?: (title: string) => Progress;
}

export interface PassSummary {
  readonly online: boolean;
  readonly deviceId?: string;
  readonly blocksMeasured: number;
  readonly architecturesMeasured: number;
  /** Of those, calibration work (calibration-set members and reference networks). */
  readonly calibrationMeasured: number;
  readonly uploaded: number;
  readonly duplicates: number;
  readonly pending: number;
}

function sameRuntime(a: DeviceProfile, b: DeviceProfile): boolean {
  return (
    JSON.stringify(a.runtime) === JSON.stringify(b.runtime) && a.hardware.cpuModel === b.hardware.cpuModel
  );
}

/**
 * The device this state directory belongs to, registering it on first use. Returns undefined when the API
 * cannot be reached (the caller then works offline).
 */
export async function ensureDevice(
  ctx: AgentContext,
  client: ApiClient,
): Promise<RegisteredDevice | undefined> {
  const known = ctx.store.device();
  if (known) {
    if (known.apiUrl !== normalizeUrl(ctx.apiUrl)) {
      throw new AgentUsageError(
        `this state directory belongs to device ${known.id} on ${known.apiUrl}, not ${ctx.apiUrl}; ` +
          'use another --name (or --state-dir) for another server',
      );
    }
    if (!sameRuntime(known.profile, ctx.profile)) {
      throw new AgentUsageError(
        `device ${known.name} was registered with ${known.profile.runtime.threads} thread(s) on ` +
          `${known.profile.hardware.cpuModel}; a different runtime is a different device: use another --name`,
      );
    }
    return known;
  }
  if (!ctx.apiKey) {
    throw new AgentUsageError(
      'this device is not registered yet: pass --api-key <key> or set EDGENAS_API_KEY',
    );
  }
  try {
    const reg = await withRetry(
      () => client.registerDevice(ctx.apiKey!, ctx.profile.name, ctx.profile),
      ctx.retry,
    );
    const device: RegisteredDevice = {
      id: reg.id,
      token: reg.token,
      apiUrl: normalizeUrl(ctx.apiUrl),
      name: ctx.profile.name,
      profile: ctx.profile,
      registeredAt: new Date().toISOString(),
      clock: ctx.benchmark.clock,
    };
    ctx.store.saveDevice(device);
    ctx.log(`registered device ${device.name} as ${device.id}`);
    return device;
  } catch (err) {
    if (err instanceof ApiUnreachableError) {
      ctx.log(`${err.message}; measuring offline, registration on the next pass`);
      return undefined;
    }
    throw err;
  }
}

export function normalizeUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Whole architectures from the server, parsed on their geometry; unparseable ones are logged and left out. */
function architecturesToMeasure(
  ctx: AgentContext,
  items: readonly { readonly space: string; readonly architecture: string }[],
  extra: (i: number) => Partial<ArchitectureToMeasure>,
  what: (i: number) => string,
): ArchitectureToMeasure[] {
  return items.flatMap((v, i) => {
    try {
      const config = resolveSpaceName(v.space);
      return [{ architecture: parseArchitecture(v.architecture, config), config, ...extra(i) }];
    } catch (err) {
      ctx.log(`skipping ${what(i)}: ${(err as Error).message}`);
      return [];
    }
  });
}

/**
 * One pass of the agent loop: register if needed, sync what is queued, fetch work (or, offline, take every
 * signature the requested spaces can use), benchmark the signatures not yet measured here in chunks (each
 * chunk stored locally first, then synced), answer verification requests, then measure the calibration work
 * (a space whose LUT this pass completed gets its calibration set now, so predictions are calibrated before
 * the first job; whenever this pass flagged drift, the server asks for the reference networks again), sync.
 */
export async function runPass(ctx: AgentContext): Promise<PassSummary> {
  const client = new ApiClient(ctx.apiUrl);
  let device = await ensureDevice(ctx, client);
  const clock = ctx.store.device()?.clock ?? 'wall';
  if (device && clock !== ctx.benchmark.clock) {
    throw new AgentUsageError(
      `device ${device.name} measures with the ${clock} clock, not ${ctx.benchmark.clock}: use another --name`,
    );
  }
  let uploaded = 0;
  let duplicates = 0;

  const sync = async (): Promise<void> => {
    if (!device) return;
    try {
      const r = await syncPending(ctx.store, client, device, { retry: ctx.retry });
      uploaded += r.accepted;
      duplicates += r.duplicates;
      if (r.rejected) ctx.log(`server rejected ${r.rejected} measurement(s); see \`status\``);
    } catch (err) {
      if (!(err instanceof ApiUnreachableError)) throw err;
      ctx.log(`${err.message}; ${ctx.store.counts().pending} measurement(s) stay queued`);
      device = undefined;
    }
  };

  await sync();

  let missing: BlockSignature[];
  let verifications: ArchitectureToMeasure[] = [];
  const measured = ctx.store.measuredSignatureKeys();
  const spaceNames = ctx.spaces.map((s) => s.name);
  const work = device ? await fetchWork(ctx, client, device, spaceNames) : undefined;
  if (!work) device = undefined;
  if (work) {
    missing = work.missing.filter((s) => !measured.has(signatureKey(s)));
    const answered = ctx.store.answeredVerificationIds();
    const open = work.verifications.filter((v) => !answered.has(v.id));
    verifications = architecturesToMeasure(
      ctx,
      open,
      (i) => ({ verificationId: open[i].id }),
      (i) => `verification ${open[i].id}`,
    );
  } else {
    const byKey = new Map<string, BlockSignature>();
    for (const config of ctx.spaces)
      for (const s of spaceSignatures(config))
        if (!measured.has(signatureKey(s))) byKey.set(signatureKey(s), s);
    missing = [...byKey.values()];
  }

  let blocksMeasured = 0;
  let driftFlagged = false;
  if (missing.length) {
    const progress = (ctx.progress ?? ((t) => createProgress(t, ctx.log)))('blocks');
    try {
      await benchmarkSignatures(missing, ctx.benchmark, {
        onProgress: (d, t, l) => progress.update(d, t, l),
        onSkip: (key, reason) => ctx.log(`skipping ${key}: ${reason}`),
        onChunk: async (rows) => {
          ctx.store.add(rows.map((body) => ({ kind: 'block' as const, body })));
          blocksMeasured += rows.length;
          driftFlagged ||= rows.some((r) => r.driftFlagged);
          await sync();
        },
      });
    } finally {
      progress.stop();
    }
  }

  let architecturesMeasured = 0;
  const measureArchitectures = async (items: ArchitectureToMeasure[], title: string): Promise<void> => {
    if (items.length === 0) return;
    const progress = (ctx.progress ?? ((t) => createProgress(t, ctx.log)))(title);
    try {
      await benchmarkArchitectures(
        items,
        { ...ctx.benchmark, chunkSize: Math.min(ctx.benchmark.chunkSize, ARCHITECTURE_CHUNK) },
        {
          onProgress: (d, t, l) => progress.update(d, t, l),
          onChunk: async (rows) => {
            ctx.store.add(rows.map((body) => ({ kind: 'architecture' as const, body })));
            architecturesMeasured += rows.length;
            driftFlagged ||= rows.some((r) => r.driftFlagged);
            await sync();
          },
        },
      );
    } finally {
      progress.stop();
    }
  };
  await measureArchitectures(verifications, 'verifications');

  let calibrationMeasured = 0;
  if (ctx.calibrate ?? true) {
    const calibrationOf = (items: readonly CalibrationWorkItem[]) =>
      architecturesToMeasure(
        ctx,
        items,
        (i) => ({ purpose: items[i].purpose }),
        (i) => `${items[i].purpose} network ${items[i].architecture}`,
      );
    // Measuring blocks may have completed a LUT, and drift flagged here makes references due: ask again.
    let calibration = work?.calibration ?? [];
    if (device && (blocksMeasured > 0 || driftFlagged)) {
      calibration = (await fetchWork(ctx, client, device, spaceNames))?.calibration ?? [];
    }
    const before = architecturesMeasured;
    driftFlagged = false;
    await measureArchitectures(calibrationOf(calibration), 'calibration');
    if (device && driftFlagged) {
      const again = (await fetchWork(ctx, client, device, spaceNames))?.calibration ?? [];
      await measureArchitectures(calibrationOf(again.filter((c) => c.purpose === 'reference')), 'references');
    }
    calibrationMeasured = architecturesMeasured - before;
  }

  return {
    online: device !== undefined,
    deviceId: ctx.store.device()?.id,
    blocksMeasured,
    architecturesMeasured,
    calibrationMeasured,
    uploaded,
    duplicates,
    pending: ctx.store.counts().pending,
  };
}

async function fetchWork(ctx: AgentContext, client: ApiClient, device: RegisteredDevice, spaces: string[]) {
  try {
    return await withRetry(() => client.work(device.id, device.token, spaces), ctx.retry);
  } catch (err) {
    if (!(err instanceof ApiUnreachableError)) throw err;
    ctx.log(`${err.message}; measuring offline`);
    return undefined;
  }
}

/** Runs passes until `signal` aborts, sleeping `intervalMs` between them. */
export async function runLoop(ctx: AgentContext, intervalMs: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      ctx.log(describePass(await runPass(ctx)));
    } catch (err) {
      // Usage errors and refused credentials will not heal by waiting; anything else is retried next pass.
      if (err instanceof AgentUsageError) throw err;
      if (err instanceof ApiError && err.credentialsRefused) throw err;
      ctx.log(`pass failed: ${(err as Error).message}; retrying in ${Math.round(intervalMs / 1000)} s`);
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}

export function describePass(s: PassSummary): string {
  return (
    `${s.online ? 'online' : 'offline'}: measured ${s.blocksMeasured} block(s), ${s.architecturesMeasured} ` +
    `architecture(s)${s.calibrationMeasured ? ` (${s.calibrationMeasured} for calibration)` : ''}; uploaded ${s.uploaded} (${s.duplicates} already on the server); ${s.pending} queued`
  );
}

export { DEFAULT_RETRY };
