/**
 * Activities of the NAS job workflow: everything with I/O. Built by `createActivities(deps)` so tests and the
 * worker process hand in the database and data folder.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { CandidateSummary, JobStatus, NasJobResult, ProxyTrainingSpec } from '@edgenas/contracts';
import {
  Architecture,
  MacroConfig,
  architectureId,
  countCost,
  formatArchitecture,
  getMacroConfig,
  parseArchitecture,
  proxyConfigFor,
  signatureKey,
  withGeometry,
} from '@edgenas/search-space';
import { lowerArchitecture } from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildOnnxModel } from '@edgenas/search-space/onnx';
import { missingSignatures, predictLatency as predictArchitectureLatency } from '@edgenas/latency-predictor';
// The runner only: a light worker never loads TensorFlow.js.
import { isNonRetryableTrainingError, trainInChildProcess } from '@edgenas/proxy-trainer/child-process';
import {
  CandidateStatus,
  Db,
  DevicePredictor,
  JsonValue,
  Repositories,
  createRepositories,
  loadDevicePredictor,
} from '@edgenas/storage';

export interface ActivityDeps {
  readonly db: Db;
  /** Datasets cache and temp files. */
  readonly dataDir: string;
  /** How long `awaitVerification` waits for device agents; default 120 s. */
  readonly verificationTimeoutMs?: number;
  /** Poll interval of `awaitVerification`; default 1 s. */
  readonly verificationPollMs?: number;
}

export interface Geometry {
  readonly space: string;
  readonly input: { readonly height: number; readonly width: number; readonly channels: number };
  readonly classes: number;
}

export interface DevicesGeometry extends Geometry {
  readonly deviceIds: readonly string[];
}

export interface PricedArchitecture {
  readonly architecture: string;
  readonly latencyByDevice: Record<string, number>;
  /** The latency objective: worst over the devices. */
  readonly worstLatencyMs: number;
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

/** Training progress carried in heartbeats, so a retry can say where its predecessor stopped. */
export interface TrainingProgress {
  readonly step: number;
  readonly loss: number;
}

export const ONNX_MODEL_NOTE =
  'Weights are initialised (seeded), not trained: proxy-trained weights belong to the smaller proxy geometry and ' +
  'are not meaningful at the deployment geometry. Train this architecture on your data before deployment.';

const MAX_KEYS_IN_MESSAGE = 12;

export function deploymentConfig(geometry: Geometry): MacroConfig {
  return withGeometry(getMacroConfig(geometry.space), { input: geometry.input, classes: geometry.classes });
}

/** Deterministic per (job, device, architecture), so a retried request activity creates nothing new. */
export function verificationRequestId(jobId: string, deviceId: string, architecture: string): string {
  const h = createHash('sha256').update(`${jobId}\n${deviceId}\n${architecture}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function createActivities(deps: ActivityDeps) {
  const repos: Repositories = createRepositories(deps.db);
  const verificationTimeoutMs = deps.verificationTimeoutMs ?? 120_000;
  const verificationPollMs = deps.verificationPollMs ?? 1000;

  /** Per device, its LUT and calibration for the deployment geometry (the storage's one loader). */
  async function loadPredictors(g: DevicesGeometry): Promise<DevicePredictor[]> {
    const config = deploymentConfig(g);
    const predictors: DevicePredictor[] = [];
    for (const deviceId of g.deviceIds) {
      const predictor = await loadDevicePredictor(repos, deviceId, config);
      if (!predictor) throw ApplicationFailure.nonRetryable(`unknown device "${deviceId}"`, 'UnknownDevice');
      predictors.push(predictor);
    }
    return predictors;
  }

  return {
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
          `the latency LUT cannot price space ${deploymentConfig(g).name}: ${total} missing signature(s); ` +
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
      const config = deploymentConfig(req);
      return req.architectures.map((text) => {
        const arch = parseArchitecture(text, config);
        const latencyByDevice: Record<string, number> = {};
        for (const p of predictors) {
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
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as TrainingProgress | undefined;
      if (previous) {
        ctx.log.info('retrying proxy training after a lost attempt', {
          architectureId: req.architectureId,
          attempt: ctx.info.attempt,
          previousStep: previous.step,
        });
      }
      let progress: TrainingProgress = { step: 0, loss: NaN };
      ctx.heartbeat(progress);
      // Heartbeat on a timer too: the first training step can take longer than the heartbeat timeout allows.
      const timer = setInterval(() => ctx.heartbeat(progress), 2000);
      try {
        const result = await trainInChildProcess(
          {
            architecture: req.architecture,
            space: proxyConfigFor(getMacroConfig(req.space)).name,
            dataset: req.proxy.dataset,
            epochs: req.proxy.epochs,
            ...(req.proxy.steps !== undefined ? { steps: req.proxy.steps } : {}),
            batchSize: req.proxy.batchSize,
            resolution: req.proxy.resolution,
            seed: req.seed,
            dataDir: deps.dataDir,
          },
          {
            signal: ctx.cancellationSignal,
            onProgress: (p) => {
              progress = { step: p.step, loss: p.loss };
              ctx.heartbeat(progress);
            },
          },
        );
        // The result names its backend; the log says why when it is not native TensorFlow (a fallback).
        if (result.backend.name !== 'tensorflow') {
          ctx.log.warn('proxy training ran without native TensorFlow', {
            architectureId: req.architectureId,
            backend: result.backend.name,
            reason: result.backend.reason,
          });
        }
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
      } catch (err) {
        // Cancellation (workflow cancel, worker shutdown) killed the training: report it as such.
        const reason: unknown = ctx.cancellationSignal.reason;
        if (ctx.cancellationSignal.aborted)
          throw reason instanceof CancelledFailure ? reason : new CancelledFailure('cancelled');
        // A bad request, dataset or architecture fails the same way on every attempt.
        if (isNonRetryableTrainingError(err)) {
          const e = err as Error;
          throw ApplicationFailure.nonRetryable(`${e.name}: ${e.message}`, e.name);
        }
        throw err;
      } finally {
        clearInterval(timer);
      }
    },

    /** ONNX model of an architecture at the deployment geometry, with initialised weights (see the note). */
    async exportOnnx(
      req: Geometry & { jobId: string; architectureId: string; architecture: string; seed: number },
    ): Promise<{ bytes: number }> {
      const config = deploymentConfig(req);
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
      const space = deploymentConfig(req).name;
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
      const ctx = Context.current();
      const deadline = Date.now() + verificationTimeoutMs;
      const measured: Record<string, Record<string, number>> = {};
      const open = new Set(req.requestIds);
      while (open.size > 0) {
        for (const id of [...open]) {
          const request = await repos.verifications.get(id);
          if (!request) {
            open.delete(id);
            continue;
          }
          if (request.status === 'expired') open.delete(id);
          if (request.status !== 'completed' || !request.measurementId) continue;
          const m = await repos.measurements.getArchitectureMeasurement(request.measurementId);
          open.delete(id);
          if (!m) continue;
          (measured[request.architecture] ??= {})[request.deviceId] = m.estimateMs;
          const arch = parseArchitecture(request.architecture);
          await repos.candidates.recordMeasuredLatency(
            req.jobId,
            architectureId(arch),
            request.deviceId,
            m.estimateMs,
          );
        }
        if (open.size === 0 || Date.now() >= deadline) break;
        ctx.heartbeat({ waiting: open.size });
        await ctx.sleep(verificationPollMs);
      }
      for (const id of open) await repos.verifications.expire(id);
      return measured;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

function trainingCount(training: JsonValue | null): number {
  if (training && typeof training === 'object' && !Array.isArray(training)) {
    const n = training.trainings;
    if (typeof n === 'number') return n;
  }
  return 0;
}
