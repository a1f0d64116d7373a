import {
  DistillationSpec,
  FINAL_PRECISIONS,
  FinalTrainingGeometry,
  FinalTrainingSpec,
  NasJobInput,
} from '@edgenas/contracts';
import { baseSpaceName, getMacroConfig, proxyConfigFor, resolveSpace } from '@edgenas/search-space';
import { ApiError, FieldError } from '../common/api-error';
import { FINAL_TRAINING_DEFAULTS, FinalTrainingDto } from './final-models.dto';

/**
 * Largest square input side a final model is trained at on the deployment geometry (the largest proxy
 * resolution jobs accept); above it, training on a CPU takes too long and the proxy geometry is used.
 */
export const MAX_DEPLOYMENT_TRAINING_SIDE = 64;

/** Training images of the job's dataset, where the API can know it (an image folder is read by workers only). */
export function trainingImages(job: NasJobInput): number | undefined {
  const d = job.proxy.dataset;
  return d.kind === 'image-folder' ? undefined : d.trainSize;
}

/**
 * Where a final model is trained: Fashion-MNIST and the synthetic set are small grayscale images that cannot be
 * resized to a deployment geometry meaningfully, so they train at the proxy geometry (which is the deployment
 * geometry when the job deploys at it); an image folder trains at the deployment geometry when it is square,
 * 1 or 3 channels and at most MAX_DEPLOYMENT_TRAINING_SIDE px.
 */
export function finalTrainingGeometry(job: NasJobInput): FinalTrainingGeometry {
  const deployment = resolveSpace(job.space, { input: job.input, classes: job.classes });
  const { height, width, channels } = deployment.input;
  const shape = `${height}×${width}×${channels}`;
  const proxy = (reason: string): FinalTrainingGeometry => ({
    at: 'proxy',
    space: proxyConfigFor(getMacroConfig(job.space)).name,
    resolution: job.proxy.resolution,
    dataset: job.proxy.dataset,
    reason,
  });
  const dataset = job.proxy.dataset;
  if (dataset.kind !== 'image-folder') {
    const proxySpace = proxyConfigFor(getMacroConfig(job.space)).name;
    const resolution = job.proxy.resolution;
    if (
      proxySpace === baseSpaceName(job.space) &&
      channels === 1 &&
      height === resolution &&
      width === resolution
    ) {
      return {
        at: 'deployment',
        space: proxySpace,
        resolution,
        dataset,
        reason: `the deployment input ${shape} is the proxy geometry's: trained and exported at it`,
      };
    }
    const name = dataset.kind === 'fashion-mnist' ? 'Fashion-MNIST' : 'the synthetic set';
    return proxy(
      `${name} holds 28×28 grayscale images, which cannot be resized to the deployment input ${shape} ` +
        `meaningfully: trained and exported at the proxy geometry (${job.proxy.resolution} px)`,
    );
  }
  if (height !== width || height > MAX_DEPLOYMENT_TRAINING_SIDE || (channels !== 1 && channels !== 3)) {
    return proxy(
      `the deployment input ${shape} is not a square of at most ${MAX_DEPLOYMENT_TRAINING_SIDE} px with 1 or 3 ` +
        `channels, too large to train on a CPU here: trained and exported at the proxy geometry ` +
        `(${job.proxy.resolution} px)`,
    );
  }
  return {
    at: 'deployment',
    space: deployment.name.split('@')[0],
    resolution: height,
    dataset: { ...dataset, color: channels === 3 ? 'rgb' : 'grayscale' },
    reason: `trained and exported at the deployment input ${shape} from the image folder`,
  };
}

/** The request with every default filled in; 400 naming each field that cannot work with the job's data. */
export function resolveFinalTraining(
  body: FinalTrainingDto,
  job: NasJobInput,
  distillation: DistillationSpec | undefined,
): FinalTrainingSpec {
  const issues: FieldError[] = [];
  if (body.steps !== undefined && body.epochs !== undefined) {
    issues.push({ field: 'epochs', reason: 'give steps or epochs, not both' });
  }
  const d = FINAL_TRAINING_DEFAULTS;
  const batchSize = body.batchSize ?? d.batchSize;
  const calibrationImages = body.calibrationImages ?? d.calibrationImages;
  const train = trainingImages(job);
  if (train !== undefined) {
    if (batchSize > train) {
      issues.push({
        field: 'batchSize',
        reason: `one batch of ${batchSize} is larger than the training set (${train} images)`,
      });
    }
    const precisions = body.precisions ?? d.precisions;
    if (precisions.includes('int8') && calibrationImages > train) {
      issues.push({
        field: 'calibrationImages',
        reason: `${calibrationImages} calibration images, but the training set has ${train}`,
      });
    }
  }
  if (issues.length > 0) {
    throw new ApiError(400, issues.map((i) => `${i.field}: ${i.reason}`).join('; '), issues);
  }
  return {
    ...(body.steps !== undefined ? { steps: body.steps } : {}),
    epochs: body.epochs ?? d.epochs,
    batchSize,
    ...(body.learningRate !== undefined ? { learningRate: body.learningRate } : {}),
    augmentation: {
      crop: body.augmentation?.crop ?? d.augmentation.crop,
      flip: body.augmentation?.flip ?? d.augmentation.flip,
    },
    seed: body.seed ?? job.seed,
    ...(distillation ? { distillation } : {}),
    calibrationImages,
    // float32 always: the INT8 model is made from it.
    precisions: FINAL_PRECISIONS.filter(
      (p) => p === 'float32' || (body.precisions ?? d.precisions).includes(p),
    ),
  };
}
