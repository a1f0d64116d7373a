/**
 * The NAS job workflow: deterministic orchestration only. Everything with I/O (LUTs, SQL, training, ONNX,
 * device agents) is an activity; the search itself is pure (libs/search) and its state is plain JSON, so it is
 * carried across continue-as-new.
 */
import {
  ApplicationFailure,
  TemporalFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  BaselineSummary,
  CandidateSummary,
  FinalistSpec,
  JobStatus,
  NasJobInput,
  NasJobProgress,
  NasJobResult,
  PROGRESS_QUERY,
  SupernetArtifactSummary,
  SupernetSpec,
} from '@edgenas/contracts';
import {
  MacroConfig,
  architectureId,
  baselineArchitectures,
  formatArchitecture,
  getMacroConfig,
  proxyConfigFor,
  withGeometry,
} from '@edgenas/search-space';
import {
  Evaluation,
  SearchState,
  initSearch,
  markTies,
  normalizedHypervolume,
  paretoFront,
  proposeWithinBudget,
  selectFinalists,
  summarizeSeeds,
  tell,
} from '@edgenas/search';
import type { PricedArchitecture, SupernetArtifact } from './activities';
import { light, longTraining, training, verification } from './activity-proxies';
import { failureMessage } from './workflow-errors';

export const progressQuery = defineQuery<NasJobProgress>(PROGRESS_QUERY);

/** Candidates per scoring activity: small enough that progress moves, large enough to amortise loading. */
const SCORING_CHUNK = 8;

/** Supernet training runs in about this many activities (checkpoint to checkpoint), at least … */
const SUPERNET_SEGMENTS = 10;
/** … this many steps each (a segment pays for a process start and the dataset load). */
const SUPERNET_SEGMENT_MIN_STEPS = 250;

/** Continue-as-new at least this often (generations per run), even when the server does not suggest it yet. */
export const GENERATIONS_PER_RUN = 10;

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
  /** The evaluated candidates that are on the front so far (the others can never return to it). */
  readonly candidates: readonly CandidateSummary[];
  readonly trained: number;
  readonly rejectedOverBudget: number;
  readonly hypervolumeHistory?: readonly number[];
  /** Supernet mode: the trained supernet the search scores with. */
  readonly supernet?: SupernetArtifact;
}

/** Per round of the search: each candidate's accuracy, or the reason it could not be evaluated. */
type RoundResults = PromiseSettledResult<{ accuracy: number }>[];

type StopReason = NasJobResult['stoppedBy'];

export async function nasJob(input: NasJobInput, options: NasJobRunOptions = {}): Promise<NasJobResult> {
  const { carry } = options;
  const generationsPerRun = Math.max(1, options.generationsPerRun ?? GENERATIONS_PER_RUN);
  const mode = input.evaluation?.mode ?? 'standalone';
  let status: JobStatus = 'running';
  let activity = carry ? 'searching' : 'starting';
  let generation = carry?.generation ?? 0;
  let trained = carry?.trained ?? 0;
  /** Candidates of the current round evaluated so far (added to `trained` when the round is recorded). */
  let roundDone = 0;
  let rejectedOverBudget = carry?.rejectedOverBudget ?? 0;
  let candidates: CandidateSummary[] = [...(carry?.candidates ?? [])];
  let front: CandidateSummary[] = frontOf(candidates);
  const hypervolumeHistory: number[] = [...(carry?.hypervolumeHistory ?? [])];
  let startedAtMs = carry?.startedAtMs ?? Date.now();
  let supernet = carry?.supernet;

  setHandler(progressQuery, () => ({
    status,
    generation,
    generations: input.budget.generations,
    trained: trained + roundDone,
    rejectedOverBudget,
    front,
    hypervolume: hypervolumeOf(front, input.latencyBudgetMs),
    activity,
    hypervolumeHistory,
  }));

  try {
    const deployment = withGeometry(getMacroConfig(input.space), {
      input: input.input,
      classes: input.classes,
    });
    const devices = {
      deviceIds: input.deviceIds,
      space: input.space,
      input: input.input,
      classes: input.classes,
    };
    if (!carry) {
      await light.setJobStatus({ jobId: input.jobId, status: 'running' });
      // Fails fast (non-retryable) naming the signatures the LUTs lack.
      activity = 'checking latency tables';
      await light.checkLutCoverage(devices);
    }
    const supernetSpec = input.evaluation?.supernet;
    if (mode === 'supernet' && !supernet?.complete) {
      if (!supernetSpec) {
        throw ApplicationFailure.nonRetryable('supernet mode needs evaluation.supernet', 'BadJobInput');
      }
      // In segments, each resuming from the previous one's checkpoint, so progress is visible here.
      const segment = Math.max(SUPERNET_SEGMENT_MIN_STEPS, Math.ceil(supernetSpec.steps / SUPERNET_SEGMENTS));
      do {
        const done = supernet?.steps ?? 0;
        activity =
          `supernet training ${Math.floor((100 * done) / supernetSpec.steps)} % (${done}/${supernetSpec.steps} steps)` +
          (supernet?.sharedWith ? `, shared with job ${supernet.sharedWith}` : '');
        supernet = await longTraining.trainSupernet({
          jobId: input.jobId,
          space: input.space,
          proxy: input.proxy,
          supernet: supernetSpec,
          // Jobs stored before supernets had their own seed trained theirs with the job's.
          seed: supernetSpec.seed ?? input.seed,
          untilStep: Math.min(supernetSpec.steps, done + segment),
        });
      } while (!supernet.complete);
      // The wall-clock limit is the search's: it starts once the supernet is ready.
      startedAtMs = Date.now();
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

    /** Evaluates one round: one scoring activity for the whole batch, or a training per candidate. */
    /**
     * Evaluates one round: scoring activities of up to SCORING_CHUNK candidates each (the supernet loads once
     * per chunk; chunks run on as many training slots as there are), or a training per candidate. `roundDone`
     * counts evaluations as they finish, so progress moves within a generation.
     */
    const evaluate = async (round: readonly Omit<CandidateSummary, 'accuracy'>[]): Promise<RoundResults> => {
      const counted = <T>(p: Promise<T>, n: number) =>
        p.then((value) => {
          roundDone += n;
          return value;
        });
      if (supernet?.complete) {
        const artifact = supernet;
        activity = `scoring generation ${generation + 1}: ${round.length} subnets`;
        const chunks: (typeof round)[] = [];
        for (let i = 0; i < round.length; i += SCORING_CHUNK) chunks.push(round.slice(i, i + SCORING_CHUNK));
        const settled = await Promise.allSettled(
          chunks.map((chunk) =>
            counted(
              training.scoreSubnets({
                jobId: input.jobId,
                generation,
                supernet: artifact,
                space: input.space,
                proxy: input.proxy,
                spec: supernetSpec as SupernetSpec,
                seed: input.seed,
                candidates: chunk.map((c) => ({
                  architectureId: c.architectureId,
                  architecture: c.architecture,
                })),
              }),
              chunk.length,
            ),
          ),
        );
        return settled.flatMap((r, i): RoundResults => {
          if (r.status === 'fulfilled')
            return r.value.map((accuracy) => ({ status: 'fulfilled', value: { accuracy } }));
          return chunks[i].map(() => ({ status: 'rejected', reason: r.reason }));
        });
      }
      activity = `training generation ${generation + 1}: ${round.length} candidates`;
      return Promise.allSettled(
        round.map((r) =>
          counted(
            training.proxyTrain({
              jobId: input.jobId,
              generation,
              architectureId: r.architectureId,
              architecture: r.architecture,
              space: input.space,
              proxy: input.proxy,
              seed: input.seed,
            }),
            1,
          ),
        ),
      );
    };

    let stoppedBy: StopReason | undefined;
    for (;;) {
      stoppedBy = stopReason(input, generation, trained, startedAtMs);
      if (stoppedBy) break;

      // Propose until a population's worth is predicted within the budget (over-budget ones are never trained).
      activity = `proposing generation ${generation + 1}`;
      const priced = new Map<string, PricedArchitecture>();
      const maxToTrain = Math.min(input.budget.population, input.budget.maxTrainedCandidates - trained);
      const round = await proposeWithinBudget(search, maxToTrain, async (architectures) => {
        const prices = await light.predictLatency({
          ...devices,
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
      const summary = (id: string) => summaryOf(priced.get(id) as PricedArchitecture, id);
      const toTrain = round.candidates.map((c) => summary(c.id));
      await light.recordCandidates({
        jobId: input.jobId,
        generation,
        candidates: [
          ...round.rejected.map((c) => ({ ...summary(c.id), status: 'over-budget' as const })),
          ...toTrain.map((r) => ({ ...r, status: 'proposed' as const })),
        ],
      });

      const results = await evaluate(toTrain);
      roundDone = 0;
      const cancelled = results.find((r) => r.status === 'rejected' && isCancellation(r.reason));
      if (cancelled && cancelled.status === 'rejected') throw cancelled.reason;

      const evaluations: Evaluation[] = [];
      const failed: Omit<CandidateSummary, 'accuracy'>[] = [];
      const source = supernet ? ('supernet' as const) : ('standalone' as const);
      const evaluated: CandidateSummary[] = [];
      round.candidates.forEach((c, i) => {
        const r = results[i];
        if (r.status === 'fulfilled') {
          evaluations.push({ ...c, accuracy: r.value.accuracy });
          evaluated.push({ ...toTrain[i], accuracy: r.value.accuracy, accuracySource: source });
          trained++;
        } else {
          failed.push(toTrain[i]);
          log.warn('evaluation failed; candidate left out', {
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
      candidates = frontOf([...candidates, ...evaluated]);
      front = candidates;
      hypervolumeHistory.push(hypervolumeOf(front, input.latencyBudgetMs));
      generation++;

      if (!stopReason(input, generation, trained, startedAtMs)) {
        if (workflowInfo().continueAsNewSuggested || generation % generationsPerRun === 0) {
          await continueAsNew<typeof nasJob>(input, {
            generationsPerRun,
            carry: {
              startedAtMs,
              generation,
              search,
              candidates,
              trained,
              rejectedOverBudget,
              hypervolumeHistory,
              supernet,
            },
          });
        }
      }
    }

    let searchFront: CandidateSummary[] | undefined;
    let baselines: BaselineSummary[] | undefined;
    if (supernet?.complete) {
      searchFront = front;
      const finalists = input.evaluation?.finalists as FinalistSpec;
      const retrained = await retrainFinalistsAndBaselines(input, deployment, searchFront, finalists, (a) => {
        activity = a;
      });
      front = retrained.front;
      baselines = retrained.baselines;
      // A baseline on the front becomes a candidate of the job, so its model, verification and final training
      // find it as they find the finalists.
      const entrants = front.filter((c) => c.baseline !== undefined);
      if (entrants.length > 0) {
        await light.recordCandidates({
          jobId: input.jobId,
          generation,
          candidates: entrants.map((c) => ({ ...c, status: 'trained' as const })),
        });
      }
    }

    activity = 'exporting and verifying the front';
    front = await finalise(input, front);
    const result: NasJobResult = {
      front,
      trained,
      hypervolume: hypervolumeOf(front, input.latencyBudgetMs),
      stoppedBy,
      evaluationMode: mode,
      precision: input.precision ?? 'fp32',
      ...(searchFront ? { searchFront } : {}),
      ...(baselines ? { baselines } : {}),
      ...(supernet ? { supernet: supernetSummary(supernet), scored: trained } : {}),
    };
    await light.setJobStatus({ jobId: input.jobId, status: 'completed', result });
    status = 'completed';
    activity = 'completed';
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

function summaryOf(p: PricedArchitecture, id: string): Omit<CandidateSummary, 'accuracy'> {
  return {
    architectureId: id,
    architecture: p.architecture,
    predictedLatencyMs: p.worstLatencyMs,
    predictedLatencyByDevice: p.latencyByDevice,
    macs: p.macs,
    params: p.params,
  };
}

function supernetSummary(a: SupernetArtifact): SupernetArtifactSummary {
  return {
    key: a.key,
    steps: a.steps,
    reused: a.reused,
    trainingMs: a.trainingMs,
    sha256: a.sha256,
    resumedFromStep: a.resumedFromStep,
    ...(a.sharedWith ? { sharedWith: a.sharedWith } : {}),
  };
}

/**
 * The supernet front's finalists (spread by crowding) and the hand-designed baselines, each trained
 * stand-alone from scratch over the finalists' seeds; the job's front is the Pareto front by mean accuracy of
 * the finalists and the baselines within the budget, with ties (differences within the seed spread) named.
 */
async function retrainFinalistsAndBaselines(
  input: NasJobInput,
  deployment: MacroConfig,
  searchFront: readonly CandidateSummary[],
  spec: FinalistSpec,
  setActivity: (activity: string) => void,
): Promise<{ front: CandidateSummary[]; baselines?: BaselineSummary[] }> {
  const finalists = selectFinalists(
    searchFront.map((c) => ({ ...c, latencyMs: c.predictedLatencyMs })),
    spec.count,
  ).map(({ latencyMs: _latencyMs, ...c }) => c as CandidateSummary);
  const withBaselines = input.evaluation?.baselines ?? false;
  const laidOut = withBaselines ? baselineArchitectures(deployment, [proxyConfigFor(deployment)]) : [];
  const baselinePrices = laidOut.length
    ? await light.predictLatency({
        deviceIds: input.deviceIds,
        space: input.space,
        input: input.input,
        classes: input.classes,
        architectures: laidOut.map((b) => formatArchitecture(b.architecture, deployment)),
      })
    : [];
  const baselineSummaries = laidOut.map((b, i) => ({
    name: b.name,
    summary: summaryOf(baselinePrices[i], architectureId(b.architecture)),
  }));
  const proxy = { ...input.proxy, steps: spec.steps, batchSize: spec.batchSize };
  const seeds = Array.from({ length: spec.seeds }, (_, s) => input.seed + s);
  const jobs = [
    ...finalists.map((c) => ({ c, purpose: 'finalist' as const, baseline: undefined as string | undefined })),
    ...baselineSummaries.map((b) => ({ c: b.summary, purpose: 'baseline' as const, baseline: b.name })),
  ];
  const total = jobs.length * seeds.length;
  let done = 0;
  setActivity(`training finalists and baselines: 0/${total}`);
  const results = await Promise.allSettled(
    jobs.flatMap(({ c, purpose, baseline }) =>
      seeds.map(async (seed) => {
        const r = await training.trainStandalone({
          jobId: input.jobId,
          architectureId: c.architectureId,
          architecture: c.architecture,
          space: input.space,
          proxy,
          seed,
          purpose,
          baseline,
        });
        done++;
        setActivity(`training finalists and baselines: ${done}/${total}`);
        return r.accuracy;
      }),
    ),
  );
  const cancelled = results.find((r) => r.status === 'rejected' && isCancellation(r.reason));
  if (cancelled && cancelled.status === 'rejected') throw cancelled.reason;
  const accuraciesOf = (index: number): number[] =>
    results
      .slice(index * seeds.length, (index + 1) * seeds.length)
      .flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const retrained = (
    c: Omit<CandidateSummary, 'accuracy'>,
    accuracies: number[],
    supernetAccuracy?: number,
  ) => {
    const s = summarizeSeeds(accuracies);
    return {
      ...c,
      accuracy: s.mean,
      accuracySd: s.sd,
      seedAccuracies: accuracies,
      accuracySource: 'retrained' as const,
      ...(supernetAccuracy !== undefined ? { supernetAccuracy } : {}),
    };
  };
  const finalistResults = finalists
    .map((c, i) => ({ c, accuracies: accuraciesOf(i) }))
    .filter((f) => f.accuracies.length > 0)
    .map((f) => retrained(f.c, f.accuracies, f.c.accuracy));
  if (finalistResults.length === 0) {
    const first = results.find((r) => r.status === 'rejected');
    throw first && first.status === 'rejected' ? first.reason : new Error('no finalist could be trained');
  }
  const finalistFront = frontOf(finalistResults);
  if (!withBaselines) return { front: withTies(finalistFront) };
  const baselines: BaselineSummary[] = baselineSummaries.flatMap((b, i) => {
    const accuracies = accuraciesOf(finalists.length + i);
    if (accuracies.length === 0) return [];
    const r = retrained(b.summary, accuracies);
    return [{ ...r, baseline: b.name, coveredByFront: coveredByFront(r, finalistFront) }];
  });
  // A baseline within the budget that the finalists do not dominate belongs on the front: the user gets the best
  // of everything trained at the finalists' budget, and `coveredByFront` still says what the search bought.
  const entrants: CandidateSummary[] = baselines
    .filter((b) => b.predictedLatencyMs <= input.latencyBudgetMs)
    .map(({ coveredByFront: _covered, ...b }) => b);
  return { front: withTies(frontOf([...finalistResults, ...entrants])), baselines };
}

/** The front with its ties named: members whose accuracies differ by less than the seed spread. */
function withTies(front: readonly CandidateSummary[]): CandidateSummary[] {
  const ties = markTies(
    front.map((c) => ({ id: c.architectureId, seeds: c.seedAccuracies ?? [c.accuracy] })),
  );
  return front.map((c) => {
    const tiedWith = ties.get(c.architectureId) ?? [];
    return tiedWith.length > 0 ? { ...c, tiedWith } : c;
  });
}

/** A baseline is covered when a front member is as fast and as accurate, up to the larger seed range. */
function coveredByFront(b: CandidateSummary, front: readonly CandidateSummary[]): boolean {
  const range = (c: CandidateSummary) => {
    const xs = c.seedAccuracies ?? [c.accuracy];
    return Math.max(...xs) - Math.min(...xs);
  };
  return front.some(
    (f) =>
      f.predictedLatencyMs <= b.predictedLatencyMs * (1 + 1e-9) &&
      f.accuracy >= b.accuracy - Math.max(range(f), range(b)),
  );
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

export { finalTraining } from './final-training-workflow';
