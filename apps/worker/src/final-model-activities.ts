/**
 * Activities of the final-training workflow: train an architecture stand-alone in a child process (the child
 * writes the trained weights to a file), export them as float ONNX, quantize to INT8 on training images,
 * evaluate both files in ONNX Runtime on the validation split, and store files and model card.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  FileNotMeasured,
  FinalModelFile,
  FinalModelProgress,
  FinalModelStatus,
  FinalTrainingInput,
  FinalTrainingPhase,
} from '@edgenas/contracts';
import { parseArchitecture, resolveSpace } from '@edgenas/search-space';
import { lowerArchitecture } from '@edgenas/search-space/graph';
import { buildOnnxModel } from '@edgenas/search-space/onnx';
// Runners, datasets and files only: this process never loads TensorFlow.js.
import { trainInChildProcess } from '@edgenas/proxy-trainer/child-process';
import { Dataset, loadDataset, splitToNchw } from '@edgenas/proxy-trainer/datasets';
import type {
  ProxyTrainingRequest,
  ProxyTrainingResult,
  TrainingProgress,
} from '@edgenas/proxy-trainer/request';
import {
  readTeacherLogits,
  readWeightsFile,
  writeAtomically,
  writeTeacherLogits,
} from '@edgenas/proxy-trainer/tensor-file';
import { QuantizedModel, evaluateOnnx, quantizeModel, runOnnxModel } from '@edgenas/quantizer';
import {
  FinalModelFileRef,
  JsonValue,
  Repositories,
  VerificationRequestRecord,
  createRepositories,
} from '@edgenas/storage';
import type { ActivityDeps } from './activity-deps';
import { pollVerifications } from './verification-polling';
import {
  FileMeasurements,
  TeacherSummary,
  TrainedFinalModel,
  buildModelCard,
  withMeasuredLatency,
} from './model-card';
import {
  DatasetReading,
  TrainingProgress as TrainingHeartbeat,
  datasetReadingOf,
  warnWithoutNativeTraining,
  withTrainingContext,
} from './training-context';

export interface TrainFinalModelRequest {
  readonly input: FinalTrainingInput;
  /** Distillation only: the prepared teacher (its logits file). */
  readonly teacher?: TeacherSummary;
}

export interface QuantizeFinalModelRequest {
  readonly input: FinalTrainingInput;
  readonly trained: TrainedFinalModel;
  readonly teacher?: TeacherSummary;
  readonly predictedLatencyMs: Readonly<Record<string, number>>;
  readonly latencyWarning?: string;
}

export interface FinalModelVerificationRequests {
  readonly requestIds: readonly string[];
}

/** Deterministic per (final model, device, file), so a retried request activity creates nothing new. */
export function finalModelVerificationId(
  finalModelId: string,
  deviceId: string,
  file: FinalModelFile,
): string {
  const h = createHash('sha256').update(`final-model\n${finalModelId}\n${deviceId}\n${file}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Where a final model's working files live (weights, checkpoints), relative to the data dir. */
export function finalModelDir(finalModelId: string): string {
  return path.join('final-models', finalModelId);
}

/** The stand-alone training request of an architecture under a final-training spec. */
export function finalTrainingRequest(
  input: FinalTrainingInput,
  architecture: string,
  reading: DatasetReading,
): ProxyTrainingRequest {
  const { spec, geometry } = input;
  return {
    architecture,
    space: geometry.space,
    dataset: geometry.dataset,
    epochs: spec.epochs,
    ...(spec.steps !== undefined ? { steps: spec.steps } : {}),
    batchSize: spec.batchSize,
    resolution: geometry.resolution,
    seed: spec.seed,
    ...reading,
    ...(spec.learningRate !== undefined ? { learningRate: spec.learningRate } : {}),
    augmentation: spec.augmentation,
  };
}

/** The dataset as the training child loaded it (same spec, resolution and seed: the same split). */
export function finalTrainingDataset(input: FinalTrainingInput, reading: DatasetReading): Dataset {
  return loadDataset(input.geometry.dataset, {
    resolution: input.geometry.resolution,
    seed: input.spec.seed,
    ...reading,
  });
}

/** The float ONNX model of trained weights, on the geometry the trainer reports it trained on. */
export function exportTrainedModel(
  architecture: string,
  geometry: string,
  weightsFile: string,
  docString: string,
): Uint8Array {
  const config = resolveSpace(geometry);
  const graph = lowerArchitecture(parseArchitecture(architecture, config), config);
  return buildOnnxModel(graph, readWeightsFile(weightsFile), { docString });
}

export function createFinalModelActivities(
  deps: ActivityDeps,
  repos: Repositories = createRepositories(deps.db),
) {
  const reading = datasetReadingOf(deps);
  /**
   * Requests still open after a wait: a measurement that arrived anyway is kept, the others are listed with
   * `reason`.
   */
  async function settleUnanswered(
    open: ReadonlySet<string>,
    measured: { float: Record<string, number>; int8: Record<string, number> },
    notMeasured: FileNotMeasured[],
    reason: string,
  ): Promise<void> {
    for (const id of open) {
      const request = await repos.verifications.get(id);
      if (!request?.modelFile) continue;
      const late = request.measurementId
        ? await repos.measurements.getArchitectureMeasurement(request.measurementId)
        : undefined;
      if (late) measured[request.modelFile.file][request.deviceId] = late.estimateMs;
      else notMeasured.push({ device: request.deviceId, file: request.modelFile.file, reason });
    }
  }
  /** Progress rows written in order, never failing the activity (the row is informative only). */
  const progressWriter = (finalModelId: string, ctx: Context) => {
    let writing = Promise.resolve();
    return (phase: FinalTrainingPhase, p: Partial<TrainingProgress> = {}) => {
      const progress: FinalModelProgress = {
        phase,
        step: p.step ?? 0,
        totalSteps: p.totalSteps ?? 0,
        ...(p.loss !== undefined && Number.isFinite(p.loss) ? { loss: p.loss } : {}),
        updatedAt: new Date().toISOString(),
      };
      writing = writing
        .then(() => repos.finalModels.setProgress(finalModelId, progress))
        .catch((err: unknown) => ctx.log.warn('final model progress not stored', { reason: String(err) }));
      return writing;
    };
  };

  /**
   * Checkpoint options of a training child: write to `file` every `finalCheckpointIntervalMs`, each checkpoint
   * named in the heartbeat and stored in the database under `key`; resume from the one the previous attempt's
   * heartbeat named (a lost worker), else from `file` when this worker wrote it, else from the database's copy
   * (the training moved to another machine) once its digest matches.
   */
  const checkpointing = async (
    key: string,
    file: string,
    previous: TrainingHeartbeat,
    beat: (p: TrainingHeartbeat) => void,
    current: () => TrainingHeartbeat,
  ) => {
    const ctx = Context.current();
    const fromHeartbeat = previous.checkpoint ? path.join(deps.dataDir, previous.checkpoint.file) : undefined;
    const resumeFrom =
      [fromHeartbeat, file].find((f): f is string => !!f && fs.existsSync(f)) ??
      (await restoreCheckpoint(key, file));
    let storing = Promise.resolve();
    const options = {
      checkpointPath: file,
      ...(resumeFrom ? { resumeFrom } : {}),
      checkpointIntervalMs: deps.finalCheckpointIntervalMs ?? 20_000,
      onCheckpoint: (c: { step: number; path: string }) => {
        beat({ ...current(), checkpoint: { step: c.step, file: path.relative(deps.dataDir, c.path) } });
        // Read now: the child replaces the file (by rename) at its next checkpoint.
        const bytes = fs.readFileSync(c.path);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        storing = storing
          .then(() => repos.trainingCheckpoints.put({ key, step: c.step, sha256, bytes }))
          .catch((err: unknown) =>
            ctx.log.warn('checkpoint not stored in the database', { key, reason: String(err) }),
          );
      },
      onResumeRefused: (reason: string) =>
        ctx.log.warn('training checkpoint not usable; training from step 0', { reason }),
    };
    /** Once the training is done: after the last store, the database's copy is of no use. */
    const discard = async () => {
      await storing;
      await repos.trainingCheckpoints.delete(key);
    };
    return { options, discard };
  };

  /** Writes the database's checkpoint of `key` to `file` when there is one and its digest matches. */
  const restoreCheckpoint = async (key: string, file: string): Promise<string | undefined> => {
    const stored = await repos.trainingCheckpoints.get(key);
    if (!stored) return undefined;
    if (createHash('sha256').update(stored.bytes).digest('hex') !== stored.sha256) {
      Context.current().log.warn('stored checkpoint damaged; training from step 0', {
        key,
        step: stored.step,
      });
      return undefined;
    }
    writeAtomically(file, [stored.bytes]);
    Context.current().log.info('resuming from the checkpoint stored in the database', {
      key,
      step: stored.step,
    });
    return file;
  };

  return {
    async setFinalModelStatus(req: {
      finalModelId: string;
      status: FinalModelStatus;
      error?: string;
    }): Promise<void> {
      await repos.finalModels.setStatus(req.finalModelId, req.status, req.error);
    },

    /**
     * The teacher of a distilled final training, ready to teach: its float model — the job's stored final model
     * of that architecture with the same seed, or else trained now stand-alone with the student's budget
     * (checkpointed like the student) — run once in ONNX Runtime over the training split, its logits written to
     * a file that every student of that teacher reuses.
     */
    async prepareTeacher(input: FinalTrainingInput): Promise<TeacherSummary> {
      const d = input.spec.distillation;
      if (!d)
        throw ApplicationFailure.nonRetryable('no distillation was asked for', 'BadFinalTrainingRequest');
      const { spec, geometry } = input;
      const key = createHash('sha256')
        .update(
          JSON.stringify({
            job: input.jobId,
            teacher: d.teacherArchitecture,
            geometry: { space: geometry.space, resolution: geometry.resolution, dataset: geometry.dataset },
            seed: spec.seed,
            budget: [
              spec.steps ?? null,
              spec.epochs,
              spec.batchSize,
              spec.learningRate ?? null,
              spec.augmentation,
            ],
          }),
        )
        .digest('hex')
        .slice(0, 32);
      const dir = path.join(deps.dataDir, 'teachers', key);
      const logitsFile = path.join(dir, 'train.logits');
      const summaryFile = path.join(dir, 'teacher.json');
      const summaryOf = (accuracy: number, trained: TeacherSummary['trained']): TeacherSummary => ({
        architectureId: d.teacherArchitectureId,
        architecture: d.teacherArchitecture,
        source: d.teacherSource,
        trained,
        accuracy,
        logitsFile: path.relative(deps.dataDir, logitsFile),
      });
      if (fs.existsSync(summaryFile)) {
        try {
          readTeacherLogits(logitsFile);
          const cached = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as TeacherSummary;
          return summaryOf(cached.accuracy, cached.trained);
        } catch (err) {
          Context.current().log.warn('cached teacher logits unusable: computing them again', {
            key,
            reason: String(err),
          });
        }
      }
      return withTrainingContext(`teacher ${d.teacherArchitectureId}`, async (ctx, beat, current) => {
        const progress = progressWriter(input.finalModelId, ctx);
        await progress('teacher');
        const stored = (await repos.finalModels.list(input.jobId)).find(
          (m) =>
            m.architectureId === d.teacherArchitectureId &&
            m.status === 'completed' &&
            m.request.seed === spec.seed,
        );
        const storedOnnx = stored ? await repos.finalModels.file(stored.id, 'float') : undefined;
        let onnx: Uint8Array;
        let trained: TeacherSummary['trained'];
        if (storedOnnx) {
          onnx = storedOnnx;
          trained = 'stored final model';
        } else {
          const weightsPath = path.join(dir, 'teacher.weights');
          const checkpoints = await checkpointing(
            `teacher/${key}`,
            path.join(dir, 'teacher.ckpt'),
            current(),
            beat,
            current,
          );
          const result = await trainInChildProcess(
            finalTrainingRequest(input, d.teacherArchitecture, reading),
            {
              signal: ctx.cancellationSignal,
              weightsPath,
              ...checkpoints.options,
              onProgress: (p) => {
                beat({ ...current(), step: p.step, loss: p.loss });
                void progress('teacher', p);
              },
            },
          );
          warnWithoutNativeTraining(ctx, result.backend, d.teacherArchitectureId);
          await checkpoints.discard();
          onnx = exportTrainedModel(
            d.teacherArchitecture,
            result.geometry,
            weightsPath,
            `EdgeNAS distillation teacher ${d.teacherArchitectureId}`,
          );
          trained = 'trained with the same budget';
        }
        const data = finalTrainingDataset(input, reading);
        const logits = await runOnnxModel(onnx, splitToNchw(data.train, data));
        const accuracy = (await evaluateOnnx(onnx, splitToNchw(data.val, data), data.val.labels)).top1;
        writeTeacherLogits(logitsFile, logits.output, logits.perImage);
        const summary = summaryOf(accuracy, trained);
        writeAtomically(summaryFile, [Buffer.from(JSON.stringify(summary), 'utf8')]);
        for (const f of ['teacher.weights', 'teacher.ckpt']) fs.rmSync(path.join(dir, f), { force: true });
        return summary;
      });
    },

    /**
     * Trains the architecture stand-alone (in a child process, heartbeating) and stores the float ONNX model
     * of the trained weights. Idempotent: a model already trained is not trained again.
     */
    async trainFinalModel(req: TrainFinalModelRequest): Promise<TrainedFinalModel> {
      const { input, teacher } = req;
      const stored = await repos.finalModels.get(input.finalModelId);
      if (!stored) {
        throw ApplicationFailure.nonRetryable(
          `final model ${input.finalModelId} is not recorded`,
          'FinalModelMissing',
        );
      }
      if (stored.training !== null && stored.floatBytes !== null)
        return stored.training as unknown as TrainedFinalModel;
      const dir = path.join(deps.dataDir, finalModelDir(input.finalModelId));
      const weightsPath = path.join(dir, 'model.weights');
      return withTrainingContext(`final training of ${input.architectureId}`, async (ctx, beat, current) => {
        const progress = progressWriter(input.finalModelId, ctx);
        await progress('training');
        const distillation = input.spec.distillation;
        if (distillation && !teacher) {
          throw ApplicationFailure.nonRetryable(
            'distillation needs its prepared teacher',
            'BadFinalTrainingRequest',
          );
        }
        const request: ProxyTrainingRequest = {
          ...finalTrainingRequest(input, input.architecture, reading),
          ...(distillation && teacher
            ? {
                distillation: {
                  teacherLogits: path.join(deps.dataDir, teacher.logitsFile),
                  temperature: distillation.temperature,
                  weight: distillation.weight,
                },
              }
            : {}),
        };
        const checkpoints = await checkpointing(
          `final-model/${input.finalModelId}`,
          path.join(dir, 'model.ckpt'),
          current(),
          beat,
          current,
        );
        const result: ProxyTrainingResult = await trainInChildProcess(request, {
          signal: ctx.cancellationSignal,
          weightsPath,
          ...checkpoints.options,
          onProgress: (p) => {
            beat({ ...current(), step: p.step, loss: p.loss });
            void progress('training', p);
          },
        });
        warnWithoutNativeTraining(ctx, result.backend, input.architectureId);
        const onnx = exportTrainedModel(
          input.architecture,
          result.geometry,
          weightsPath,
          `EdgeNAS final model ${input.finalModelId}: ${input.architecture}, trained on ${result.dataset} at ` +
            `${result.geometry} (${result.steps} steps)`,
        );
        const trained: TrainedFinalModel = {
          steps: result.steps,
          epochs: result.epochs,
          valAccuracy: result.valAccuracy,
          backend: result.backend.name,
          wallTimeMs: result.wallTimeMs,
          resumedFromStep: result.resumedFromStep,
          geometry: result.geometry,
          macs: result.macs,
          params: result.params,
        };
        await repos.finalModels.saveTrained(input.finalModelId, onnx, {
          ...trained,
          lossCurve: result.lossCurve as unknown as JsonValue,
          imagesPerSecond: result.imagesPerSecond,
          peakRssBytes: result.peakRssBytes,
          backendReason: result.backend.reason,
        });
        fs.rmSync(weightsPath, { force: true });
        await checkpoints.discard();
        return trained;
      });
    },

    /**
     * Quantizes the stored float model to INT8 (calibrated on the first training images), evaluates both files
     * in ONNX Runtime on the validation split, then stores the INT8 file and the card (the files are measured on
     * the devices next; `completeFinalModel` completes the model).
     */
    async quantizeFinalModel(
      req: QuantizeFinalModelRequest,
    ): Promise<{ float: number; int8: number | null }> {
      const { input } = req;
      const id = input.finalModelId;
      const stored = await repos.finalModels.get(id);
      // The card is stored with the INT8 file (then the files are measured): a retry has nothing left to do.
      if (stored?.card) {
        return { float: stored.card.accuracy.float, int8: stored.card.accuracy.int8 };
      }
      const float = await repos.finalModels.file(id, 'float');
      if (!float)
        throw ApplicationFailure.nonRetryable(
          `final model ${id} has no trained float file`,
          'FinalModelMissing',
        );
      return withTrainingContext(`quantizing final model ${id}`, async (ctx) => {
        try {
          return await quantizeAndStore(ctx, float);
        } catch (err) {
          // Bad input to the quantizer fails the same way on every attempt.
          if (err instanceof Error && err.name === 'QuantizationInputError') {
            throw ApplicationFailure.nonRetryable(err.message, err.name);
          }
          throw err;
        }
      });

      async function quantizeAndStore(
        ctx: Context,
        float: Uint8Array,
      ): Promise<{ float: number; int8: number | null }> {
        const progress = progressWriter(id, ctx);
        await progress('quantizing');
        const data = finalTrainingDataset(input, reading);
        const val = splitToNchw(data.val, data);
        const floatTop1 = await evaluateOnnx(float, val, data.val.labels);
        let int8: { model: QuantizedModel; top1: number } | undefined;
        if (input.spec.precisions.includes('int8')) {
          const count = input.spec.calibrationImages;
          if (count > data.train.count) {
            throw ApplicationFailure.nonRetryable(
              `calibrationImages: ${count} calibration images, but the training set has ${data.train.count}`,
              'BadFinalTrainingRequest',
            );
          }
          const model = await quantizeModel(float, splitToNchw(data.train, data, count), {
            labels: data.train.labels.subarray(0, count),
          });
          int8 = { model, top1: (await evaluateOnnx(model.int8Onnx, val, data.val.labels)).top1 };
        }
        const report = int8?.model.report;
        const card = buildModelCard({
          input,
          trained: req.trained,
          teacher: req.teacher,
          dataset: {
            kind: input.geometry.dataset.kind,
            name: data.name,
            trainImages: data.train.count,
            valImages: data.val.count,
            classes: data.classes,
          },
          inputShape: { height: data.height, width: data.width, channels: data.channels },
          float: { onnx: float, top1: floatTop1.top1, images: floatTop1.images },
          ...(int8 && report
            ? {
                int8: {
                  onnx: int8.model.int8Onnx,
                  top1: int8.top1,
                  method: int8.model.method,
                  report,
                  scheme:
                    `static QDQ INT8: weights int8 per output channel, symmetric over ±${report.weightQuantMax}; ` +
                    `activations uint8 per tensor, calibrated on ${report.calibrationImages} training images`,
                },
              }
            : {}),
          predictedLatencyMs: req.predictedLatencyMs,
          ...(req.latencyWarning ? { latencyWarning: req.latencyWarning } : {}),
          createdAt: new Date().toISOString(),
        });
        await repos.finalModels.saveQuantized(id, card, int8?.model.int8Onnx ?? null);
        fs.rmSync(path.join(deps.dataDir, finalModelDir(id)), { recursive: true, force: true });
        return { float: floatTop1.top1, int8: int8?.top1 ?? null };
      }
    },

    /**
     * Asks the agent of every device of the job to measure each stored file (float, and INT8 when made) as it
     * is, at the files' geometry. Returns the request ids.
     */
    async requestFinalModelVerification(req: {
      input: FinalTrainingInput;
    }): Promise<FinalModelVerificationRequests> {
      const { input } = req;
      const stored = await repos.finalModels.get(input.finalModelId);
      if (!stored?.card) {
        throw ApplicationFailure.nonRetryable(
          `final model ${input.finalModelId} has no card: its files are not stored`,
          'FinalModelMissing',
        );
      }
      const files: FinalModelFile[] = stored.int8Bytes !== null ? ['float', 'int8'] : ['float'];
      const requestIds: string[] = [];
      for (const deviceId of input.deployment.deviceIds) {
        for (const file of files) {
          const id = finalModelVerificationId(input.finalModelId, deviceId, file);
          await repos.verifications.create({
            id,
            deviceId,
            jobId: input.jobId,
            space: stored.card.geometry.trained,
            architecture: stored.card.architecture,
            modelFile: { finalModelId: input.finalModelId, file },
          });
          requestIds.push(id);
        }
      }
      return { requestIds };
    },

    /**
     * Waits (heartbeating) until the agents measured the files or the timeout passed; unanswered requests expire
     * and are reported with the reason: a missing agent never fails the final training.
     */
    async awaitFinalModelVerification(req: { requestIds: readonly string[] }): Promise<FileMeasurements> {
      const timeoutMs = deps.finalVerificationTimeoutMs ?? deps.verificationTimeoutMs ?? 120_000;
      const measured: { float: Record<string, number>; int8: Record<string, number> } = {
        float: {},
        int8: {},
      };
      const notMeasured: FileNotMeasured[] = [];
      const open = new Set(req.requestIds);
      // only requests with a file are polled (`relevant`)
      const fileOf = (request: VerificationRequestRecord) => (request.modelFile as FinalModelFileRef).file;
      try {
        await pollVerifications(repos, open, {
          deadline: Date.now() + timeoutMs,
          pollMs: deps.verificationPollMs ?? 1000,
          relevant: (request) => !!request.modelFile,
          expired: (request) =>
            notMeasured.push({
              device: request.deviceId,
              file: fileOf(request),
              reason: 'the request expired',
            }),
          answered: (request, m) => {
            if (m) measured[fileOf(request)][request.deviceId] = m.estimateMs;
            else
              notMeasured.push({
                device: request.deviceId,
                file: fileOf(request),
                reason: 'its measurement is gone',
              });
          },
        });
      } finally {
        // Given up (timeout or cancellation): agents stop being asked.
        for (const id of open) await repos.verifications.expire(id);
      }
      await settleUnanswered(
        open,
        measured,
        notMeasured,
        `no measurement from the device's agent within ${Math.round(timeoutMs / 1000)} s ` +
          '(agent not running, offline, or busy)',
      );
      return { ...measured, notMeasured };
    },

    /**
     * The measurements answered so far, without waiting: the rest expire and are listed with `reason`. Used when
     * the wait is cancelled after the files were stored, so the model completes with what the devices measured.
     */
    async collectFinalModelMeasurements(req: {
      requestIds: readonly string[];
      reason: string;
    }): Promise<FileMeasurements> {
      const measured: { float: Record<string, number>; int8: Record<string, number> } = {
        float: {},
        int8: {},
      };
      const notMeasured: FileNotMeasured[] = [];
      const open = new Set(req.requestIds);
      for (const id of open) await repos.verifications.expire(id);
      await settleUnanswered(open, measured, notMeasured, req.reason);
      return { ...measured, notMeasured };
    },

    /** Records the files' measured latency in the card and completes the model. */
    async completeFinalModel(req: { finalModelId: string; measured: FileMeasurements }): Promise<void> {
      const stored = await repos.finalModels.get(req.finalModelId);
      if (!stored?.card) {
        throw ApplicationFailure.nonRetryable(
          `final model ${req.finalModelId} has no card to complete`,
          'FinalModelMissing',
        );
      }
      if (stored.status === 'completed') return;
      await repos.finalModels.complete(req.finalModelId, withMeasuredLatency(stored.card, req.measured));
    },
  };
}

export type FinalModelActivities = ReturnType<typeof createFinalModelActivities>;
