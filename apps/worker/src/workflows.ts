/**
 * The NAS job workflow: deterministic orchestration only. Everything with I/O (LUTs, SQL, training, ONNX,
 * device agents) is an activity; the search itself is pure (libs/search) and its state is plain JSON, so it is
 * carried across continue-as-new.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  TemporalFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  CandidateSummary,
  JobStatus,
  NasJobInput,
  NasJobProgress,
  NasJobResult,
  PROGRESS_QUERY,
  TASK_QUEUES,
} from '@edgenas/contracts';
import {
  architectureId,
  formatArchitecture,
  getMacroConfig,
  proxyConfigFor,
  withGeometry,
} from '@edgenas/search-space';
import {
  Evaluation,
  SearchState,
  initSearch,
  normalizedHypervolume,
  paretoFront,
  proposeWithinBudget,
  tell,
} from '@edgenas/search';
import type { Activities, PricedArchitecture, TrainedCandidate } from './activities';

export const progressQuery = defineQuery<NasJobProgress>(PROGRESS_QUERY);

/** Continue-as-new at least this often (generations per run), even when the server does not suggest it yet. */
export const GENERATIONS_PER_RUN = 10;

const light = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.light,
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: ['MissingSignatures'] },
});

const training = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.training,
  startToCloseTimeout: '1 hour',
  // Training heartbeats every couple of seconds; a lost worker is noticed after this and the try is retried.
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 4 },
  // Cancellation waits until the activity has stopped its training process.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

const verification = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.light,
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

/** Options of a run besides the job input (the API starts jobs without them). */
export interface NasJobRunOptions {
  /** Search state handed over by the previous run (continue-as-new). */
  readonly carry?: NasJobCarry;
  /** Generations per workflow run before continue-as-new; default GENERATIONS_PER_RUN. */
  readonly generationsPerRun?: number;
}

/** What a run hands to the next one on continue-as-new. */
export interface NasJobCarry {
  readonly startedAtMs: number;
  readonly generation: number;
  readonly search: SearchState;
  readonly candidates: readonly CandidateSummary[];
  readonly trained: number;
  readonly rejectedOverBudget: number;
}

type StopReason = NasJobResult['stoppedBy'];

export async function nasJob(input: NasJobInput, options: NasJobRunOptions = {}): Promise<NasJobResult> {
  const { carry } = options;
  const generationsPerRun = Math.max(1, options.generationsPerRun ?? GENERATIONS_PER_RUN);
  let status: JobStatus = 'running';
  let generation = carry?.generation ?? 0;
  let trained = carry?.trained ?? 0;
  let rejectedOverBudget = carry?.rejectedOverBudget ?? 0;
  const candidates: CandidateSummary[] = [...(carry?.candidates ?? [])];
  let front: CandidateSummary[] = frontOf(candidates);
  const startedAtMs = carry?.startedAtMs ?? Date.now();

  setHandler(progressQuery, () => ({
    status,
    generation,
    generations: input.budget.generations,
    trained,
    rejectedOverBudget,
    front,
    hypervolume: hypervolumeOf(front, input.latencyBudgetMs),
  }));

  try {
    const deployment = withGeometry(getMacroConfig(input.space), {
      input: input.input,
      classes: input.classes,
    });
    if (!carry) {
      await light.setJobStatus({ jobId: input.jobId, status: 'running' });
      // Fails fast (non-retryable) naming the signatures the LUTs lack.
      await light.checkLutCoverage({
        deviceIds: input.deviceIds,
        space: input.space,
        input: input.input,
        classes: input.classes,
      });
    }
    let search =
      carry?.search ??
      initSearch({
        strategy: input.strategy,
        config: deployment,
        seed: input.seed,
        latencyBudgetMs: input.latencyBudgetMs,
        populationSize: input.budget.population,
        // Candidates are trained on the proxy geometry: they must be valid there too.
        alsoValidFor: [proxyConfigFor(deployment)],
      });

    let stoppedBy: StopReason | undefined;
    for (;;) {
      stoppedBy = stopReason(input, generation, trained, startedAtMs);
      if (stoppedBy) break;

      // Propose until a population's worth is predicted within the budget (over-budget ones are never trained).
      const priced = new Map<string, PricedArchitecture>();
      const maxToTrain = Math.min(input.budget.population, input.budget.maxTrainedCandidates - trained);
      const round = await proposeWithinBudget(search, maxToTrain, async (architectures) => {
        const prices = await light.predictLatency({
          deviceIds: input.deviceIds,
          space: input.space,
          input: input.input,
          classes: input.classes,
          architectures: architectures.map((a) => formatArchitecture(a, deployment)),
        });
        architectures.forEach((a, i) => priced.set(architectureId(a), prices[i]));
        return prices.map((p) => p.worstLatencyMs);
      });
      search = round.state;
      if (round.candidates.length === 0 && round.rejected.length === 0) {
        // The space is exhausted: nothing new to propose.
        stoppedBy = 'budget';
        break;
      }
      const summary = (id: string): Omit<CandidateSummary, 'accuracy'> => {
        const p = priced.get(id) as PricedArchitecture;
        return {
          architectureId: id,
          architecture: p.architecture,
          predictedLatencyMs: p.worstLatencyMs,
          predictedLatencyByDevice: p.latencyByDevice,
          macs: p.macs,
          params: p.params,
        };
      };
      const toTrain = round.candidates.map((c) => summary(c.id));
      await light.recordCandidates({
        jobId: input.jobId,
        generation,
        candidates: [
          ...round.rejected.map((c) => ({ ...summary(c.id), status: 'over-budget' as const })),
          ...toTrain.map((r) => ({ ...r, status: 'proposed' as const })),
        ],
      });

      const results = await Promise.allSettled(
        toTrain.map((r) =>
          training.proxyTrain({
            jobId: input.jobId,
            generation,
            architectureId: r.architectureId,
            architecture: r.architecture,
            space: input.space,
            proxy: input.proxy,
            seed: input.seed,
          }),
        ),
      );
      const cancelled = results.find((r) => r.status === 'rejected' && isCancellation(r.reason));
      if (cancelled && cancelled.status === 'rejected') throw cancelled.reason;

      const evaluations: Evaluation[] = [];
      const failed: Omit<CandidateSummary, 'accuracy'>[] = [];
      round.candidates.forEach((c, i) => {
        const r = results[i];
        if (r.status === 'fulfilled') {
          const done: TrainedCandidate = r.value;
          evaluations.push({ ...c, accuracy: done.accuracy });
          candidates.push({ ...toTrain[i], accuracy: done.accuracy });
          trained++;
        } else {
          failed.push(toTrain[i]);
          log.warn('proxy training failed; candidate left out', {
            architectureId: c.id,
            error: String(r.reason),
          });
        }
      });
      if (failed.length > 0 && failed.length === toTrain.length) {
        // Not one candidate trained: the training set-up is broken (dataset, trainer), not the candidates.
        const first = results.find((r) => r.status === 'rejected');
        throw first && first.status === 'rejected' ? first.reason : new Error('proxy training failed');
      }
      if (failed.length > 0) {
        await light.recordCandidates({
          jobId: input.jobId,
          generation,
          candidates: failed.map((r) => ({ ...r, status: 'failed' as const })),
        });
      }
      rejectedOverBudget += round.rejected.length;

      search = tell(search, evaluations);
      front = frontOf(candidates);
      generation++;

      if (!stopReason(input, generation, trained, startedAtMs)) {
        if (workflowInfo().continueAsNewSuggested || generation % generationsPerRun === 0) {
          await continueAsNew<typeof nasJob>(input, {
            generationsPerRun,
            carry: { startedAtMs, generation, search, candidates, trained, rejectedOverBudget },
          });
        }
      }
    }

    front = await finalise(input, front);
    const result: NasJobResult = {
      front,
      trained,
      hypervolume: hypervolumeOf(front, input.latencyBudgetMs),
      stoppedBy,
    };
    await light.setJobStatus({ jobId: input.jobId, status: 'completed', result });
    status = 'completed';
    return result;
  } catch (err) {
    if (isCancellation(err)) {
      status = 'cancelled';
      await CancellationScope.nonCancellable(() =>
        light.setJobStatus({ jobId: input.jobId, status: 'cancelled' }),
      );
    } else if (!isContinueAsNew(err)) {
      status = 'failed';
      await CancellationScope.nonCancellable(() =>
        light.setJobStatus({ jobId: input.jobId, status: 'failed', error: failureMessage(err) }),
      );
    }
    // Anything but a Temporal failure would only fail the workflow task (and retry it forever): fail the job.
    if (err instanceof TemporalFailure || isContinueAsNew(err)) throw err;
    throw ApplicationFailure.nonRetryable(failureMessage(err), 'NasJobError');
  }
}

/** ONNX export and on-device verification of the front; a missing agent never fails the job. */
async function finalise(input: NasJobInput, front: CandidateSummary[]): Promise<CandidateSummary[]> {
  if (front.length === 0) return front;
  for (const member of front) {
    await light.exportOnnx({
      jobId: input.jobId,
      architectureId: member.architectureId,
      architecture: member.architecture,
      space: input.space,
      input: input.input,
      classes: input.classes,
      seed: input.seed,
    });
  }
  const requests = await light.requestVerification({
    jobId: input.jobId,
    deviceIds: input.deviceIds,
    space: input.space,
    input: input.input,
    classes: input.classes,
    architectures: front.map((m) => m.architecture),
  });
  const measured = await verification.awaitVerification({
    jobId: input.jobId,
    requestIds: requests.requestIds,
  });
  const withMeasured = front.map((m) => {
    const byDevice = measured[m.architecture];
    return byDevice && Object.keys(byDevice).length > 0 ? { ...m, measuredLatencyByDevice: byDevice } : m;
  });
  return withMeasured;
}

function stopReason(
  input: NasJobInput,
  generation: number,
  trained: number,
  startedAtMs: number,
): StopReason | undefined {
  if (generation >= input.budget.generations) return 'budget';
  if (trained >= input.budget.maxTrainedCandidates) return 'max-candidates';
  if (Date.now() - startedAtMs >= input.budget.wallClockSeconds * 1000) return 'wall-clock';
  return undefined;
}

function frontOf(candidates: readonly CandidateSummary[]): CandidateSummary[] {
  const points = candidates.map((c) => ({ ...c, latencyMs: c.predictedLatencyMs }));
  return paretoFront(points)
    .map(({ latencyMs: _latencyMs, ...c }) => c)
    .sort((a, b) => a.predictedLatencyMs - b.predictedLatencyMs);
}

function hypervolumeOf(front: readonly CandidateSummary[], latencyBudgetMs: number): number {
  return normalizedHypervolume(
    front.map((c) => ({ accuracy: c.accuracy, latencyMs: c.predictedLatencyMs })),
    latencyBudgetMs,
  );
}

function isContinueAsNew(err: unknown): boolean {
  return err instanceof ContinueAsNew;
}

function failureMessage(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.message;
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}
