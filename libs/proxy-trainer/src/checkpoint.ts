/**
 * Checkpoints of stand-alone training: the network's weights (canonical layouts, BN statistics included), the
 * optimizer's step count and slots, and the step reached, in a tensor file. A checkpoint names the request it
 * belongs to by a fingerprint of everything that decides the training's trajectory; a run resumes only from
 * its own.
 */
import { createHash } from 'crypto';
import * as path from 'path';
import type { OptimizerState } from './optimizer';
import type { ProxyTrainingRequest } from './request';
import { TensorFileError, readTensorFile, writeTensorFile } from './tensor-file';

const KIND = 'standalone-checkpoint';
/** Bumped when what a checkpoint holds or how training uses it changes: older checkpoints are refused. */
const CHECKPOINT_VERSION = 1;

export interface StandaloneCheckpoint {
  /** Steps done. */
  readonly step: number;
  readonly totalSteps: number;
  readonly weights: Record<string, Float32Array>;
  readonly optimizer: OptimizerState;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/**
 * What a checkpoint must match to be resumed: the request without what does not change the trajectory (data
 * folder, backend, progress interval, BN recalibration after training) and without the teacher's logits
 * themselves (a file path, or values; the distillation settings count).
 */
export function checkpointFingerprint(req: ProxyTrainingRequest): string {
  const {
    dataDir: _dataDir,
    backend: _backend,
    progressIntervalMs: _progress,
    bnRecalibrationBatches: _recalibration,
    distillation,
    ...rest
  } = req;
  const trajectory = {
    ...rest,
    ...(distillation
      ? { distillation: { temperature: distillation.temperature, weight: distillation.weight } }
      : {}),
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical({ trajectory, version: CHECKPOINT_VERSION })))
    .digest('hex')
    .slice(0, 32);
}

export function writeCheckpoint(file: string, fingerprint: string, c: StandaloneCheckpoint): void {
  const arrays: [string, Float32Array][] = Object.entries(c.weights).map(([name, w]) => [`w:${name}`, w]);
  c.optimizer.slots.forEach((slot, i) => {
    arrays.push([`m:${i}`, slot.m]);
    if (slot.s) arrays.push([`s:${i}`, slot.s]);
  });
  writeTensorFile(
    file,
    {
      kind: KIND,
      fingerprint,
      step: c.step,
      totalSteps: c.totalSteps,
      optimizerStep: c.optimizer.step,
      slots: c.optimizer.slots.length,
    },
    arrays,
  );
}

/** Reads a checkpoint of the request with `fingerprint`; throws naming why it cannot be resumed from. */
export function readCheckpoint(file: string, fingerprint: string): StandaloneCheckpoint {
  const { meta, arrays } = readTensorFile(file);
  const name = path.basename(file);
  if (meta.kind !== KIND) throw new TensorFileError(`${name} is not a training checkpoint`);
  if (meta.fingerprint !== fingerprint) {
    throw new TensorFileError(`${name} is a checkpoint of another training request`);
  }
  const weights: Record<string, Float32Array> = {};
  for (const [key, values] of arrays) if (key.startsWith('w:')) weights[key.slice(2)] = values;
  const slots = Array.from({ length: Number(meta.slots) }, (_, i) => {
    const m = arrays.get(`m:${i}`);
    if (!m) throw new TensorFileError(`${name} lacks optimizer slot ${i}`);
    const s = arrays.get(`s:${i}`);
    return s ? { m, s } : { m };
  });
  return {
    step: Number(meta.step),
    totalSteps: Number(meta.totalSteps),
    weights,
    optimizer: { step: Number(meta.optimizerStep), slots },
  };
}
