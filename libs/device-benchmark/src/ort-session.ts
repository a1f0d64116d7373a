import * as ort from 'onnxruntime-node';
import { Runnable } from './interleaved';

export interface SessionOptions {
  /** Intra-op threads (default 1, to mirror a small edge CPU). Inter-op threads are always 1. */
  readonly threads: number;
}

/** An ONNX Runtime session with a fixed input bound, ready to be timed. Release it when done. */
export interface BoundSession extends Runnable {
  release(): Promise<void>;
}

/**
 * Creates a session with fixed threads and full graph optimisation (what a deployment would use) and binds a
 * deterministic float32 input of the given NCHW shape to its first input.
 */
export async function createBoundSession(
  model: Uint8Array,
  inputShape: readonly number[],
  opts: SessionOptions,
): Promise<BoundSession> {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const size = inputShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [...inputShape]) };
  return {
    async run() {
      await session.run(feeds);
    },
    release: () => session.release(),
  };
}

/** Version of the ONNX Runtime package the agent benchmarks with. */
export function ortVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('onnxruntime-node/package.json') as { version: string };
  return pkg.version;
}
