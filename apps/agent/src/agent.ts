import {
  CalibrationWorkItem,
  DeviceNameConflict,
  DeviceProfile,
  DeviceRegistration,
  ModelFileVerificationRequest,
  precisionOf,
} from '@edgenas/contracts';
import { spaceSignatures } from '@edgenas/latency-predictor';
import {
  BlockSignature,
  MacroConfig,
  parseArchitecture,
  resolveSpace,
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
} from '@edgenas/device-benchmark';
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

/** Same hardware, runtime and precision: the same profile (a profile stored without a precision is fp32). */
function sameRuntime(a: DeviceProfile, b: DeviceProfile): boolean {
  return (
    JSON.stringify(a.runtime) === JSON.stringify(b.runtime) &&
    a.hardware.cpuModel === b.hardware.cpuModel &&
    precisionOf(a) === precisionOf(b)
  );
}

function describeRuntime(p: DeviceProfile): string {
  return `${p.runtime.threads} thread(s) at ${precisionOf(p)} on ${p.hardware.cpuModel}`;
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
        `device ${known.name} was registered with ${describeRuntime(known.profile)}; ` +
          'a different runtime or precision is a different device: use another --name',
      );
    }
    return known;
  }
  if (!ctx.apiKey) {
    throw new AgentUsageError(
      'this device is not registered yet: pass --api-key <key> or set EDGENAS_API_KEY',
    );
  }
  const apiKey = ctx.apiKey;
  try {
    let reg: DeviceRegistration;
    try {
      reg = await withRetry(() => client.registerDevice(apiKey, ctx.profile.name, ctx.profile), ctx.retry);
    } catch (err) {
      const existing = existingDeviceOf(err);
      if (existing === undefined) throw err;
      reg = await takeOver(ctx, client, apiKey, existing);
    }
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

/** The id a 409 registration answer names: this API key already has a device of that name. */
function existingDeviceOf(err: unknown): string | undefined {
  if (!(err instanceof ApiError) || err.status !== 409) return undefined;
  const id = (err.body as Partial<DeviceNameConflict> | undefined)?.existingDeviceId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * The API key already registered a device of this name (this state directory was lost, or a registration's
 * answer never arrived): the same runtime takes it over with a new token, so a restart reuses the device and
 * its LUT instead of failing; a different runtime under that name is refused.
 */
async function takeOver(
  ctx: AgentContext,
  client: ApiClient,
  apiKey: string,
  deviceId: string,
): Promise<DeviceRegistration> {
  const existing = await withRetry(() => client.device(apiKey, deviceId), ctx.retry);
  if (!sameRuntime(existing.profile, ctx.profile)) {
    throw new AgentUsageError(
      `a device named ${ctx.profile.name} (${deviceId}) is already registered with ` +
        `${describeRuntime(existing.profile)}; ` +
        'a different runtime or precision is a different device: use another --name',
    );
  }
  const reg = await withRetry(() => client.newDeviceToken(apiKey, deviceId), ctx.retry);
  ctx.log(
    `device ${ctx.profile.name} was already registered as ${deviceId}: taking it over with a new token`,
  );
  return reg;
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
      const config = resolveSpace(v.space);
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
  // The profile's precision decides what is timed (int8: every model built here is quantized first).
  const benchmark: BenchmarkOptions = { ...ctx.benchmark, precision: precisionOf(ctx.profile) };

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
  const online = device;
  const work = online ? await fetchWork(ctx, client, online, spaceNames) : undefined;
  if (!work) device = undefined;
  if (work && online) {
    missing = work.missing.filter((s) => !measured.has(signatureKey(s)));
    const answered = ctx.store.answeredVerificationIds();
    const open = work.verifications.filter((v) => !answered.has(v.id));
    verifications = architecturesToMeasure(
      ctx,
      open,
      (i) => ({ verificationId: open[i].id }),
      (i) => `verification ${open[i].id}`,
    );
    // Final models' files, downloaded now: measured beside (interleaved with) the other verifications.
    const files = (work.modelFiles ?? []).filter((v) => !answered.has(v.id));
    const downloaded = await downloadModelFiles(ctx, client, online, files);
    verifications.push(
      ...architecturesToMeasure(
        ctx,
        downloaded.map((d) => d.request),
        (i) => ({
          verificationId: downloaded[i].request.id,
          modelFile: { file: downloaded[i].request.file, onnx: downloaded[i].onnx },
        }),
        (i) => `${downloaded[i].request.file} file of final model ${downloaded[i].request.finalModelId}`,
      ),
    );
  } else {
    const byKey = new Map<string, BlockSignature>();
    for (const config of ctx.spaces)
      for (const s of spaceSignatures(config))
        if (!measured.has(signatureKey(s))) byKey.set(signatureKey(s), s);
    missing = [...byKey.values()];
  }

  let blocksMeasured = 0;
  let architecturesMeasured = 0;
  let calibrationMeasured = 0;
  // Set by a drift-flagged chunk, cleared when calibration work is fetched: drift makes references due.
  let driftSinceFetch = false;

  const measureBlocks = async (sigs: BlockSignature[]): Promise<void> => {
    const progress = (ctx.progress ?? ((t) => createProgress(t, ctx.log)))('blocks');
    try {
      await benchmarkSignatures(sigs, benchmark, {
        onProgress: (d, t, l) => progress.update(d, t, l),
        onSkip: (key, reason) => ctx.log(`skipping ${key}: ${reason}`),
        onChunk: async (rows) => {
          ctx.store.add(rows.map((body) => ({ kind: 'block' as const, body })));
          blocksMeasured += rows.length;
          driftSinceFetch ||= rows.some((r) => r.driftFlagged);
          await sync();
        },
      });
    } finally {
      progress.stop();
    }
  };

  const measureArchitectures = async (items: ArchitectureToMeasure[], title: string): Promise<void> => {
    if (items.length === 0) return;
    const progress = (ctx.progress ?? ((t) => createProgress(t, ctx.log)))(title);
    try {
      await benchmarkArchitectures(
        items,
        { ...benchmark, chunkSize: Math.min(benchmark.chunkSize, ARCHITECTURE_CHUNK) },
        {
          onProgress: (d, t, l) => progress.update(d, t, l),
          onChunk: async (rows) => {
            ctx.store.add(rows.map((body) => ({ kind: 'architecture' as const, body })));
            architecturesMeasured += rows.length;
            driftSinceFetch ||= rows.some((r) => r.driftFlagged);
            await sync();
          },
        },
      );
    } finally {
      progress.stop();
    }
  };

  const calibrate = ctx.calibrate ?? true;
  const measureCalibration = async (items: readonly CalibrationWorkItem[]): Promise<void> => {
    const before = architecturesMeasured;
    const toMeasure = architecturesToMeasure(
      ctx,
      items,
      (i) => ({ purpose: items[i].purpose }),
      (i) => `${items[i].purpose} network ${items[i].architecture}`,
    );
    await measureArchitectures(toMeasure, 'calibration');
    calibrationMeasured += architecturesMeasured - before;
  };
  /** The server's calibration work now (after a LUT completed, or drift was flagged). */
  const calibrationWorkNow = async (): Promise<readonly CalibrationWorkItem[]> => {
    driftSinceFetch = false;
    return device ? ((await fetchWork(ctx, client, device, spaceNames))?.calibration ?? []) : [];
  };

  // Blocks space by space: a space whose LUT completes gets its calibration set at once, before the next
  // space's LUT (fbnet-224's takes many minutes).
  for (const group of groupBySpace(missing, ctx.spaces)) {
    await measureBlocks(group);
    if (calibrate && device) await measureCalibration(await calibrationWorkNow());
  }
  await measureArchitectures(verifications, 'verifications');
  if (calibrate && device) {
    if (missing.length === 0) await measureCalibration(work?.calibration ?? []);
    // drift flagged since the last ask: the server now wants the reference networks re-measured
    if (driftSinceFetch) {
      const again = await calibrationWorkNow();
      await measureCalibration(again.filter((c) => c.purpose === 'reference'));
    }
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

/**
 * Missing signatures grouped by the first of the agent's spaces that uses them, in the spaces' order; the rest
 * (geometries of jobs) last.
 */
export function groupBySpace(
  missing: readonly BlockSignature[],
  spaces: readonly MacroConfig[],
): BlockSignature[][] {
  const left = new Map(missing.map((s) => [signatureKey(s), s]));
  const groups: BlockSignature[][] = [];
  for (const config of spaces) {
    const group: BlockSignature[] = [];
    for (const key of spaceSignatures(config).map(signatureKey)) {
      const sig = left.get(key);
      if (!sig) continue;
      group.push(sig);
      left.delete(key);
    }
    if (group.length > 0) groups.push(group);
  }
  if (left.size > 0) groups.push([...left.values()]);
  return groups;
}

/**
 * Downloads the files of final-model verification requests; one that cannot be had now (gone, unreachable) is
 * logged and left for a later pass.
 */
async function downloadModelFiles(
  ctx: AgentContext,
  client: ApiClient,
  device: RegisteredDevice,
  requests: readonly ModelFileVerificationRequest[],
): Promise<{ request: ModelFileVerificationRequest; onnx: Uint8Array }[]> {
  const out: { request: ModelFileVerificationRequest; onnx: Uint8Array }[] = [];
  for (const request of requests) {
    try {
      out.push({
        request,
        onnx: await withRetry(() => client.modelFile(request.path, device.token), ctx.retry),
      });
    } catch (err) {
      if (err instanceof ApiError && err.credentialsRefused) throw err;
      ctx.log(
        `skipping the ${request.file} file of final model ${request.finalModelId}: ${(err as Error).message}`,
      );
    }
  }
  return out;
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
    await pause(intervalMs, signal);
  }
}

/**
 * Waits `ms`, or less when `signal` aborts. The abort listener goes when the wait ends either way: a listener
 * left per pass piles up on the long-lived signal (Node warns from the 11th on).
 */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export function describePass(s: PassSummary): string {
  return (
    `${s.online ? 'online' : 'offline'}: measured ${s.blocksMeasured} block(s), ${s.architecturesMeasured} ` +
    `architecture(s)${s.calibrationMeasured ? ` (${s.calibrationMeasured} for calibration)` : ''}; uploaded ${s.uploaded} (${s.duplicates} already on the server); ${s.pending} queued`
  );
}

export { DEFAULT_RETRY };
