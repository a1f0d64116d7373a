/**
 * The final-training workflow of one architecture of a completed job: the teacher (distillation only), training, latency
 * prediction, INT8 quantization and evaluation, model card, then both files measured on the job's devices.
 * Deterministic orchestration only; the work is in activities on the training queue (CPU-bound, in child processes
 * or ONNX Runtime) and, for the measurements, on the light queue waiting for the device agents.
 */
import { ApplicationFailure, CancellationScope, TemporalFailure, isCancellation } from '@temporalio/workflow';
import { FinalTrainingInput } from '@edgenas/contracts';
import type { FileMeasurements } from './model-card';
import { light, longTraining, verification } from './activity-proxies';
import { failureMessage } from './workflow-errors';

export interface FinalTrainingOutcome {
  readonly finalModelId: string;
  readonly floatAccuracy: number;
  readonly int8Accuracy: number | null;
}

export async function finalTraining(input: FinalTrainingInput): Promise<FinalTrainingOutcome> {
  const id = input.finalModelId;
  try {
    await light.setFinalModelStatus({ finalModelId: id, status: 'running' });
    const teacher = input.spec.distillation ? await longTraining.prepareTeacher(input) : undefined;
    const trained = await longTraining.trainFinalModel({ input, ...(teacher ? { teacher } : {}) });

    // The deployment network's latency on the job's devices, at their precision; a LUT that cannot price it warns.
    let predictedLatencyMs: Record<string, number> = {};
    let latencyWarning: string | undefined;
    try {
      const [priced] = await light.predictLatency({
        deviceIds: input.deployment.deviceIds,
        space: input.deployment.space,
        input: input.deployment.input,
        classes: input.deployment.classes,
        architectures: [input.architecture],
      });
      predictedLatencyMs = priced.latencyByDevice;
    } catch (err) {
      if (isCancellation(err)) throw err;
      latencyWarning = `latency could not be predicted: ${failureMessage(err)}`;
    }

    const accuracy = await longTraining.quantizeFinalModel({
      input,
      trained,
      ...(teacher ? { teacher } : {}),
      predictedLatencyMs,
      ...(latencyWarning ? { latencyWarning } : {}),
    });

    // Both files stored: the job's devices measure them as they are. Whatever goes wrong here leaves the model
    // completed, with the devices that did not measure (and why) in its card. A cancel now stops only the
    // measuring: the model completes with what was measured so far.
    const noneMeasured = (reason: string): FileMeasurements => ({
      float: {},
      int8: {},
      notMeasured: input.deployment.deviceIds.flatMap((device) =>
        (accuracy.int8 !== null ? (['float', 'int8'] as const) : (['float'] as const)).map((file) => ({
          device,
          file,
          reason,
        })),
      ),
    });
    let measured: FileMeasurements;
    let requestIds: readonly string[] | undefined;
    try {
      requestIds = (await light.requestFinalModelVerification({ input })).requestIds;
      measured = await verification.awaitFinalModelVerification({ requestIds });
    } catch (err) {
      if (!isCancellation(err)) {
        measured = noneMeasured(`on-device measurement failed: ${failureMessage(err)}`);
      } else {
        const reason = 'the on-device measurement was cancelled before this device measured the file';
        const ids = requestIds;
        measured = ids
          ? await CancellationScope.nonCancellable(() =>
              light.collectFinalModelMeasurements({ requestIds: ids, reason }),
            )
          : noneMeasured(reason);
      }
    }
    await CancellationScope.nonCancellable(() => light.completeFinalModel({ finalModelId: id, measured }));
    return { finalModelId: id, floatAccuracy: accuracy.float, int8Accuracy: accuracy.int8 };
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() =>
        light.setFinalModelStatus({ finalModelId: id, status: 'cancelled' }),
      );
    } else {
      await CancellationScope.nonCancellable(() =>
        light.setFinalModelStatus({ finalModelId: id, status: 'failed', error: failureMessage(err) }),
      );
    }
    // Anything but a Temporal failure would only fail the workflow task (and retry it forever).
    if (err instanceof TemporalFailure) throw err;
    throw ApplicationFailure.nonRetryable(failureMessage(err), 'FinalTrainingError');
  }
}
