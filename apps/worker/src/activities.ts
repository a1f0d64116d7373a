/**
 * Activities of the NAS job workflow: everything with I/O. Built by `createActivities(deps)` so tests and the
 * worker process hand in the database and data folder.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  CandidateSummary,
  Geometry,
  JobStatus,
  NasJobResult,
  ProxyTrainingSpec,
  SupernetSpec,
} from '@edgenas/contracts';
import {
  Architecture,
  architectureId,
  countCost,
  formatArchitecture,
  getMacroConfig,
  parseArchitecture,
  proxyConfigFor,
  resolveSpace,
  signatureKey,
} from '@edgenas/search-space';
import { lowerArchitecture } from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildOnnxModel } from '@edgenas/search-space/onnx';
import {
  DevicePredictor,
  PricedWith,
  buildDevicePredictor,
  missingSignatures,
  predictLatency as predictArchitectureLatency,
  pricedWith,
} from '@edgenas/latency-predictor';
// The runners and the supernet file checks only: a light worker never loads TensorFlow.js.
import {
  scoreSubnetsInChildProcess,
  trainInChildProcess,
  trainSupernetInChildProcess,
} from '@edgenas/proxy-trainer/child-process';
import {
  checkSupernetFile,
  readSupernetHeader,
  supernetKey,
  writeSupernetBytes,
} from '@edgenas/proxy-trainer/supernet/artifact';
import { DatasetPathError, resolveDatasetFolder } from '@edgenas/proxy-trainer/datasets/dataset-roots';
import type { ProxyTrainingRequest } from '@edgenas/proxy-trainer/request';
import type { ActivityDeps } from './activity-deps';
import { createFinalModelActivities } from './final-model-activities';
import { pollVerifications } from './verification-polling';
import {
  DatasetReading,
  TrainingProgress,
  datasetReadingOf,
  warnWithoutNativeTraining,
  withTrainingContext,
} from './training-context';
import {
  CandidateStatus,
  JsonValue,
  Repositories,
  createRepositories,
  loadDeviceRows,
} from '@edgenas/storage';

export type { ActivityDeps } from './activity-deps';

export interface DevicesGeometry extends Geometry {
  readonly deviceIds: readonly string[];
}

export interface PricedArchitecture {
  readonly architecture: string;
  readonly latencyByDevice: Record<string, number>;
  /** The latency objective: worst over the devices. */
  readonly worstLatencyMs: number;
  /** Per device, the LUT and calibration versions the prediction used (and whether that calibration is stale). */
  readonly pricedWith: Record<string, PricedWith>;
  readonly macs: number;
  readonly params: number;
}

export interface CandidateWrite extends Omit<CandidateSummary, 'accuracy'> {
  readonly status: CandidateStatus;
  readonly accuracy?: number;
}

export interface ProxyTrainRequest {
  readonly jobId: string;
  readonly generation: number;
  readonly architectureId: string;
  readonly architecture: string;
  readonly space: string;
  readonly proxy: ProxyTrainingSpec;
  readonly seed: number;
}

export interface TrainedCandidate {
  readonly architectureId: string;
  readonly accuracy: number;
  /** True when the result was already recorded (a retried or replayed activity) and no training ran. */
  readonly reused: boolean;
}

export interface SupernetTrainRequest {
  readonly jobId: string;
  /** The job's space; the supernet is laid on its proxy geometry. */
  readonly space: string;
  readonly proxy: ProxyTrainingSpec;
  readonly supernet: SupernetSpec;
  readonly seed: number;
  /** Train this segment only: stop after this many steps with a checkpoint (default: to the end). */
  readonly untilStep?: number;
}

/** A supernet file in the data dir, by content key: finished, or trained up to `steps` so far. */
export interface SupernetArtifact {
  readonly key: string;
  /** Relative to the data dir; workers on other machines fetch it from the database by key. */
  readonly file: string;
  /** Of the finished file (of the checkpoint while incomplete). */
  readonly sha256: string;
  /** Steps trained so far (the request's steps once complete). */
  readonly steps: number;
  readonly complete: boolean;
  /** A complete file with this key existed: nothing was trained. */
  readonly reused: boolean;
  readonly trainingMs: number;
  readonly resumedFromStep: number;
  /** The job that trained (or trains) this key when this job waited for it instead. */
  readonly sharedWith?: string;
}

export interface ScoreSubnetsRequest {
  readonly jobId: string;
  readonly generation: number;
  readonly supernet: SupernetArtifact;
  readonly space: string;
  readonly proxy: ProxyTrainingSpec;
  readonly spec: SupernetSpec;
  /** The supernet's seed (its dataset split: scored images were never trained on). */
  readonly seed: number;
  readonly candidates: readonly { readonly architectureId: string; readonly architecture: string }[];
}

export interface StandaloneTrainRequest {
  readonly jobId: string;
  readonly architectureId: string;
  readonly architecture: string;
  readonly space: string;
  readonly proxy: ProxyTrainingSpec;
  readonly seed: number;
  readonly purpose: 'finalist' | 'baseline';
  readonly baseline?: string;
}

export const ONNX_MODEL_NOTE =
  'Weights are initialised (seeded), not trained: proxy-trained weights belong to the smaller proxy geometry and ' +
  'are not meaningful at the deployment geometry. Train this architecture on your data before deployment.';

const MAX_KEYS_IN_MESSAGE = 12;

/** Deterministic per (job, device, architecture), so a retried request activity creates nothing new. */
export function verificationRequestId(jobId: string, deviceId: string, architecture: string): string {
  const h = createHash('sha256').update(`${jobId}\n${deviceId}\n${architecture}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export type { TrainingProgress };

export function createActivities(deps: ActivityDeps) {
  const repos: Repositories = createRepositories(deps.db);
  const verificationTimeoutMs = deps.verificationTimeoutMs ?? 120_000;
  const verificationPollMs = deps.verificationPollMs ?? 1000;
  const reading = datasetReadingOf(deps);
  const { datasetRoots } = reading;

  /** Per device, its LUT and calibration for the deployment geometry, built from the stored rows. */
  async function loadPredictors(g: DevicesGeometry): Promise<DevicePredictor[]> {
    const config = resolveSpace(g.space, g);
    const predictors: DevicePredictor[] = [];
    const now = new Date();
    for (const deviceId of g.deviceIds) {
      const rows = await loadDeviceRows(repos, deviceId);
      if (!rows) throw ApplicationFailure.nonRetryable(`unknown device "${deviceId}"`, 'UnknownDevice');
      predictors.push(buildDevicePredictor(rows, config, { now, policy: deps.calibrationPolicy }));
    }
    return predictors;
  }

  const jobActivities = {
    async setJobStatus(req: {
      jobId: string;
      status: JobStatus;
      result?: NasJobResult;
      error?: string;
    }): Promise<void> {
      await repos.jobs.setStatus(req.jobId, req.status, { result: req.result, error: req.error });
    },

    /** Fails (non-retryable) naming, per device, the signatures its LUT lacks for the deployment geometry. */
    async checkLutCoverage(g: DevicesGeometry): Promise<void> {
      const problems: string[] = [];
      let total = 0;
      for (const m of await loadPredictors(g)) {
        const missing = missingSignatures(m.lut, m.config);
        if (missing.length === 0) continue;
        total += missing.length;
        const keys = missing.map(signatureKey);
        const shown = keys.slice(0, MAX_KEYS_IN_MESSAGE).join(', ');
        const more =
          keys.length > MAX_KEYS_IN_MESSAGE ? ` and ${keys.length - MAX_KEYS_IN_MESSAGE} more` : '';
        problems.push(`device "${m.profile.name}" (${m.deviceId}) lacks ${keys.length}: ${shown}${more}`);
      }
      if (problems.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `the latency LUT cannot price space ${resolveSpace(g.space, g).name}: ${total} missing signature(s); ` +
            `${problems.join('; ')}. Run the device agent for this space (it benchmarks what is missing).`,
          'MissingSignatures',
        );
      }
    },

    /** Batch latency prediction: per architecture, per device, and the worst over devices. */
    async predictLatency(
      req: DevicesGeometry & { architectures: readonly string[] },
    ): Promise<PricedArchitecture[]> {
      const predictors = await loadPredictors(req);
      const config = resolveSpace(req.space, req);
      return req.architectures.map((text) => {
        const arch = parseArchitecture(text, config);
        const latencyByDevice: Record<string, number> = {};
        const versions: Record<string, PricedWith> = {};
        for (const p of predictors) {
          versions[p.deviceId] = pricedWith(p);
          latencyByDevice[p.deviceId] = predictArchitectureLatency(
            arch,
            config,
            p.lut,
            p.calibration,
          ).latencyMs;
        }
        const cost = countCost(arch, config);
        return {
          architecture: formatArchitecture(arch, config),
          latencyByDevice,
          worstLatencyMs: Math.max(...Object.values(latencyByDevice)),
          pricedWith: versions,
          macs: cost.macs,
          params: cost.params,
        };
      });
    },

    /** Idempotent upsert of candidate rows (by job and architecture id). */
    async recordCandidates(req: {
      jobId: string;
      generation: number;
      candidates: readonly CandidateWrite[];
    }): Promise<void> {
      for (const c of req.candidates) {
        await repos.candidates.upsert({
          jobId: req.jobId,
          architectureId: c.architectureId,
          architecture: c.architecture,
          generation: req.generation,
          status: c.status,
          accuracy: c.accuracy,
          predictedLatencyMs: c.predictedLatencyMs,
          predictedLatencyByDevice: c.predictedLatencyByDevice,
          measuredLatencyByDevice: c.measuredLatencyByDevice,
          macs: c.macs,
          params: c.params,
        });
      }
    },

    /**
     * Proxy-trains one candidate in a child process (the event loop stays free to heartbeat and see
     * cancellation). Idempotent: a candidate whose result is recorded is returned without training.
     */
    async proxyTrain(req: ProxyTrainRequest): Promise<TrainedCandidate> {
      const recorded = await repos.candidates.get(req.jobId, req.architectureId);
      if (recorded?.status === 'trained' && recorded.accuracy !== null) {
        return { architectureId: req.architectureId, accuracy: recorded.accuracy, reused: true };
      }
      return withTrainingContext(`proxy training of ${req.architectureId}`, async (ctx, beat) => {
        const result = await trainInChildProcess(proxyRequest(req, reading), {
          signal: ctx.cancellationSignal,
          onProgress: (p) => beat({ step: p.step, loss: p.loss }),
        });
        warnWithoutNativeTraining(ctx, result.backend, req.architectureId);
        const before = await repos.candidates.get(req.jobId, req.architectureId);
        const trainings = trainingCount(before?.training ?? null) + 1;
        await repos.candidates.upsert({
          jobId: req.jobId,
          architectureId: req.architectureId,
          architecture: req.architecture,
          generation: req.generation,
          status: 'trained',
          accuracy: result.valAccuracy,
          training: { ...(JSON.parse(JSON.stringify(result)) as Record<string, JsonValue>), trainings },
        });
        return { architectureId: req.architectureId, accuracy: result.valAccuracy, reused: false };
      });
    },

    /**
     * Trains the job's supernet, or reuses a complete one with the same content key: from this worker's data
     * dir, or from the database, where every finished supernet and the latest checkpoint of one in training are
     * stored so that workers on other machines share them. One job at a time trains a key (a claim under a
     * lease its heartbeats renew); another job with the same key waits, its segments following the other's
     * checkpoints, and takes over from the last checkpoint if that job stops. A retried attempt resumes from the
     * latest checkpoint (this worker's or the database's). A corrupt file is retrained, never used.
     * Cancelling kills the training and leaves no complete file.
     */
    async trainSupernet(req: SupernetTrainRequest): Promise<SupernetArtifact> {
      const request = {
        space: proxyConfigFor(getMacroConfig(req.space)).name,
        dataset: req.proxy.dataset,
        resolution: req.proxy.resolution,
        steps: req.supernet.steps,
        batchSize: req.supernet.batchSize,
        sampling: req.supernet.sampling,
        seed: req.seed,
      };
      const key = supernetKey(request);
      const file = path.join('supernets', `${key}.supernet`);
      const absolute = path.join(deps.dataDir, file);
      const checkpoint = `${absolute}.ckpt`;
      const ctx = Context.current();
      // The job: its retried attempts and later segments keep the claim.
      const owner = req.jobId;
      const leaseMs = deps.supernetClaimLeaseMs ?? 120_000;
      const store = repos.supernets;
      const reused = (sha256: string, sharedWith?: string): SupernetArtifact => ({
        key,
        file,
        sha256,
        steps: request.steps,
        complete: true,
        reused: true,
        trainingMs: 0,
        resumedFromStep: 0,
        ...(sharedWith ? { sharedWith } : {}),
      });
      const finished = async (sharedWith?: string): Promise<SupernetArtifact | undefined> => {
        const local = checkSupernetFile(absolute);
        if (local.state === 'corrupt') {
          ctx.log.warn('supernet file is corrupt: not using it', { key });
          fs.rmSync(absolute, { force: true });
        }
        if (local.state === 'complete') {
          if (!(await store.head(key, 'artifact'))) {
            await store.put({
              key,
              kind: 'artifact',
              step: request.steps,
              sha256: local.sha256,
              bytes: fs.readFileSync(absolute),
            });
          }
          return reused(local.sha256, sharedWith);
        }
        const shared = await store.get(key, 'artifact');
        if (!shared) return undefined;
        try {
          writeSupernetBytes(absolute, shared.bytes, shared.sha256);
          return reused(shared.sha256, sharedWith);
        } catch (err) {
          ctx.log.warn('stored supernet is corrupt: training it again', {
            key,
            reason: (err as Error).message,
          });
          return undefined;
        }
      };
      const done = await finished();
      if (done) return done;

      return withTrainingContext(`supernet training ${key}`, async (_ctx, beat, current) => {
        // Another job trains this key: follow its checkpoints until it finishes, or take over when it stops.
        checkDatasetFolder(req.proxy, datasetRoots);
        let holder: string | undefined;
        for (;;) {
          const claim = await store.claim(key, owner, leaseMs);
          if (claim.claimed) {
            // The previous holder may have finished it just before giving the claim up.
            const theirs = holder ? await finished(holder) : undefined;
            if (theirs) {
              await store.release(key, owner);
              return theirs;
            }
            break;
          }
          holder = claim.owner;
          const theirs = await finished(claim.owner);
          if (theirs) return theirs;
          const progress = await store.head(key, 'checkpoint');
          if (progress && req.untilStep !== undefined && progress.step >= req.untilStep) {
            return {
              key,
              file,
              sha256: progress.sha256,
              steps: progress.step,
              complete: false,
              reused: true,
              trainingMs: 0,
              resumedFromStep: 0,
              sharedWith: claim.owner,
            };
          }
          beat({ ...current(), step: progress?.step ?? 0 });
          await ctx.sleep(deps.supernetClaimPollMs ?? 2000);
        }
        let publishing = Promise.resolve();
        try {
          // Resume from the latest checkpoint: the heartbeat's, this worker's, or the database's (another machine).
          const previous = ctx.info.heartbeatDetails as TrainingProgress | undefined;
          const fromHeartbeat = previous?.checkpoint
            ? path.join(deps.dataDir, previous.checkpoint.file)
            : undefined;
          const localStep = readSupernetHeader(checkpoint)?.step ?? -1;
          const sharedCheckpoint = await store.head(key, 'checkpoint');
          if (sharedCheckpoint && sharedCheckpoint.step > localStep) {
            const stored = await store.get(key, 'checkpoint');
            try {
              if (stored) writeSupernetBytes(checkpoint, stored.bytes, stored.sha256);
            } catch (err) {
              ctx.log.warn('stored supernet checkpoint is corrupt: not resuming from it', {
                key,
                reason: (err as Error).message,
              });
            }
          }
          const resumeFrom = [fromHeartbeat, checkpoint].find((f): f is string => !!f && fs.existsSync(f));
          let renewedAt = Date.now();
          const renew = () => {
            renewedAt = Date.now();
            publishing = publishing
              .then(() => store.claim(key, owner, leaseMs))
              .then((c) => {
                if (!c.claimed) ctx.log.warn('supernet claim lost to another job', { key, owner: c.owner });
              })
              .catch((err: unknown) =>
                ctx.log.warn('supernet claim not renewed', { key, reason: String(err) }),
              );
          };
          const result = await trainSupernetInChildProcess(
            { ...request, ...reading },
            {
              outputPath: absolute,
              checkpointPath: checkpoint,
              resumeFrom,
              checkpointIntervalMs: deps.supernetCheckpointIntervalMs ?? 20_000,
              stopAtStep: req.untilStep,
              signal: ctx.cancellationSignal,
              onProgress: (p) => {
                beat({ ...current(), step: p.step, loss: p.loss });
                if (Date.now() - renewedAt > leaseMs / 4) renew();
              },
              onCheckpoint: (c) => {
                beat({
                  ...current(),
                  checkpoint: { step: c.step, file: path.relative(deps.dataDir, c.path) },
                });
                const bytes = fs.readFileSync(c.path);
                const sha256 = createHash('sha256').update(bytes).digest('hex');
                publishing = publishing
                  .then(() => store.put({ key, kind: 'checkpoint', step: c.step, sha256, bytes }))
                  .catch((err: unknown) =>
                    ctx.log.warn('supernet checkpoint not stored', { key, reason: String(err) }),
                  );
                renew();
              },
              onResumeRefused: (reason) =>
                ctx.log.warn('supernet checkpoint not usable; training from step 0', { reason }),
            },
          );
          await publishing;
          if (result.complete) {
            await store.put({
              key,
              kind: 'artifact',
              step: result.steps,
              sha256: result.sha256,
              bytes: fs.readFileSync(absolute),
            });
            await store.deleteCheckpoint(key);
            await store.release(key, owner);
            fs.rmSync(checkpoint, { force: true });
            fs.rmSync(`${checkpoint}.sha256`, { force: true });
          }
          return {
            key,
            file,
            sha256: result.sha256,
            steps: result.steps,
            complete: result.complete,
            reused: false,
            trainingMs: result.wallTimeMs,
            resumedFromStep: result.resumedFromStep,
          };
        } catch (err) {
          // Let a waiting job take over at once, from the last stored checkpoint.
          await publishing;
          await store.release(key, owner).catch(() => undefined);
          throw err;
        }
      });
    },

    /**
     * Scores a batch of candidates with the supernet's inherited weights (one child process loads it once) and
     * records them as `scored`. Idempotent: candidates already scored in this job are not scored again.
     */
    async scoreSubnets(req: ScoreSubnetsRequest): Promise<number[]> {
      const known = new Map<string, number>();
      for (const c of req.candidates) {
        const r = await repos.candidates.get(req.jobId, c.architectureId);
        if (r?.status === 'scored' && r.accuracy !== null) known.set(c.architectureId, r.accuracy);
      }
      const todo = req.candidates.filter((c) => !known.has(c.architectureId));
      if (todo.length > 0) {
        const supernetPath = path.join(deps.dataDir, req.supernet.file);
        if (checkSupernetFile(supernetPath).state !== 'complete') {
          // Trained on another machine (or this worker's copy is damaged): fetch it from the database.
          const shared = await repos.supernets.get(req.supernet.key, 'artifact');
          if (!shared) {
            throw ApplicationFailure.nonRetryable(
              `supernet ${req.supernet.key} is neither in this worker's data dir nor in the database`,
              'SupernetMissing',
            );
          }
          writeSupernetBytes(supernetPath, shared.bytes, shared.sha256);
        }
        await withTrainingContext(`scoring ${todo.length} subnets`, async (ctx, beat) => {
          checkDatasetFolder(req.proxy, datasetRoots);
          const result = await scoreSubnetsInChildProcess(
            {
              supernetPath,
              space: proxyConfigFor(getMacroConfig(req.space)).name,
              dataset: req.proxy.dataset,
              resolution: req.proxy.resolution,
              seed: req.seed,
              architectures: todo.map((c) => c.architecture),
              recalibrationBatches: req.spec.recalibrationBatches,
              batchSize: req.spec.batchSize,
              scoreImages: req.spec.scoreImages,
              ...reading,
            },
            { signal: ctx.cancellationSignal, onProgress: (done) => beat({ step: done, loss: NaN }) },
          );
          for (let i = 0; i < todo.length; i++) {
            const s = result.scores[i];
            known.set(todo[i].architectureId, s.accuracy);
            await repos.candidates.upsert({
              jobId: req.jobId,
              architectureId: todo[i].architectureId,
              architecture: todo[i].architecture,
              generation: req.generation,
              status: 'scored',
              accuracy: s.accuracy,
              training: {
                supernet: req.supernet.key,
                scoreMs: s.ms,
                scoredImages: result.scoredImages,
                backend: result.backend.name,
              },
            });
          }
        });
      }
      return req.candidates.map((c) => known.get(c.architectureId) as number);
    },

    /**
     * Trains one finalist or baseline stand-alone from scratch with one seed. Idempotent per (job,
     * architecture, seed, purpose).
     */
    async trainStandalone(req: StandaloneTrainRequest): Promise<{ accuracy: number; reused: boolean }> {
      const recorded = await repos.standaloneTrainings.get(
        req.jobId,
        req.architectureId,
        req.seed,
        req.purpose,
      );
      if (recorded) return { accuracy: recorded.accuracy, reused: true };
      return withTrainingContext(`stand-alone training of ${req.architectureId}`, async (ctx, beat) => {
        const result = await trainInChildProcess(proxyRequest(req, reading), {
          signal: ctx.cancellationSignal,
          onProgress: (p) => beat({ step: p.step, loss: p.loss }),
        });
        warnWithoutNativeTraining(ctx, result.backend, req.architectureId);
        await repos.standaloneTrainings.upsert({
          jobId: req.jobId,
          architectureId: req.architectureId,
          architecture: req.architecture,
          seed: req.seed,
          purpose: req.purpose,
          baseline: req.baseline ?? null,
          accuracy: result.valAccuracy,
          training: JSON.parse(JSON.stringify(result)) as JsonValue,
        });
        return { accuracy: result.valAccuracy, reused: false };
      });
    },

    /** ONNX model of an architecture at the deployment geometry, with initialised weights (see the note). */
    async exportOnnx(
      req: Geometry & { jobId: string; architectureId: string; architecture: string; seed: number },
    ): Promise<{ bytes: number }> {
      const config = resolveSpace(req.space, req);
      const arch: Architecture = parseArchitecture(req.architecture, config);
      if (architectureId(arch) !== req.architectureId) {
        throw ApplicationFailure.nonRetryable(
          `architecture id ${req.architectureId} does not match "${req.architecture}"`,
          'ArchitectureMismatch',
        );
      }
      const graph = lowerArchitecture(arch, config);
      const onnx = buildOnnxModel(graph, initWeights(graph, req.seed), { docString: ONNX_MODEL_NOTE });
      await repos.models.save(req.jobId, req.architectureId, onnx, ONNX_MODEL_NOTE);
      return { bytes: onnx.byteLength };
    },

    /** Asks the devices' agents to measure each architecture end to end; returns the request ids. */
    async requestVerification(
      req: DevicesGeometry & { jobId: string; architectures: readonly string[] },
    ): Promise<{ requestIds: string[] }> {
      const space = resolveSpace(req.space, req).name;
      const requestIds: string[] = [];
      for (const deviceId of req.deviceIds) {
        for (const architecture of req.architectures) {
          const id = verificationRequestId(req.jobId, deviceId, architecture);
          await repos.verifications.create({ id, deviceId, jobId: req.jobId, space, architecture });
          requestIds.push(id);
        }
      }
      return { requestIds };
    },

    /**
     * Waits (heartbeating) until the agents answered or the timeout passed; records each measured latency beside
     * the prediction. Unanswered requests expire: a missing agent never fails the job.
     * Returns architecture → device → measured ms.
     */
    async awaitVerification(req: {
      jobId: string;
      requestIds: readonly string[];
    }): Promise<Record<string, Record<string, number>>> {
      const measured: Record<string, Record<string, number>> = {};
      const open = new Set(req.requestIds);
      await pollVerifications(repos, open, {
        deadline: Date.now() + verificationTimeoutMs,
        pollMs: verificationPollMs,
        relevant: () => true,
        answered: async (request, m) => {
          if (!m) return;
          (measured[request.architecture] ??= {})[request.deviceId] = m.estimateMs;
          const arch = parseArchitecture(request.architecture);
          await repos.candidates.recordMeasuredLatency(
            req.jobId,
            architectureId(arch),
            request.deviceId,
            m.estimateMs,
          );
        },
      });
      for (const id of open) await repos.verifications.expire(id);
      return measured;
    },
  };
  return { ...jobActivities, ...createFinalModelActivities(deps, repos) };
}

export type Activities = ReturnType<typeof createActivities>;

/** Activities of the training task queue (CPU-bound, in child processes); every other one is light. */
export const TRAINING_ACTIVITIES = [
  'proxyTrain',
  'trainSupernet',
  'scoreSubnets',
  'trainStandalone',
  'prepareTeacher',
  'trainFinalModel',
  'quantizeFinalModel',
] as const;

export function isTrainingActivity(name: string): boolean {
  return (TRAINING_ACTIVITIES as readonly string[]).includes(name);
}

/**
 * An image-folder dataset must lie under the dataset roots (symbolic links resolved), checked here before a
 * training child is started and again by the child before it reads. The failure names the field and the reason,
 * never a path outside the roots.
 */
function checkDatasetFolder(proxy: ProxyTrainingSpec, roots: readonly string[]): void {
  if (proxy.dataset.kind !== 'image-folder') return;
  try {
    resolveDatasetFolder(proxy.dataset.path, roots);
  } catch (err) {
    if (err instanceof DatasetPathError) {
      throw ApplicationFailure.nonRetryable(`proxy.dataset.path: ${err.reason}`, err.name);
    }
    throw err;
  }
}

/** The proxy-training request of a candidate at its proxy geometry (its image folder checked first). */
function proxyRequest(
  req: { architecture: string; space: string; proxy: ProxyTrainingSpec; seed: number },
  reading: DatasetReading,
): ProxyTrainingRequest {
  checkDatasetFolder(req.proxy, reading.datasetRoots);
  return {
    architecture: req.architecture,
    space: proxyConfigFor(getMacroConfig(req.space)).name,
    dataset: req.proxy.dataset,
    epochs: req.proxy.epochs,
    ...(req.proxy.steps !== undefined ? { steps: req.proxy.steps } : {}),
    batchSize: req.proxy.batchSize,
    resolution: req.proxy.resolution,
    seed: req.seed,
    ...reading,
  };
}

function trainingCount(training: JsonValue | null): number {
  if (training && typeof training === 'object' && !Array.isArray(training)) {
    const n = training.trainings;
    if (typeof n === 'number') return n;
  }
  return 0;
}
