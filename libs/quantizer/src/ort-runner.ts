/**
 * Running an ONNX model over a set of images in ONNX Runtime (CPU, fixed threads), batch by batch. Images are
 * float32 NCHW, given as one array or as batches, and are checked against the model's input shape.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { OnnxModel, decodeOnnxModel } from '@edgenas/search-space/onnx';
import { QuantizationInputError } from './errors';

/** Images as float32 NCHW: one array of N images, or several such batches. */
export type ImageBatches = Float32Array | readonly Float32Array[];

export interface RunOptions {
  /** Images per ORT run (default 8). */
  readonly batchSize?: number;
  /** Intra-op threads (default 1). */
  readonly threads?: number;
}

export const DEFAULT_BATCH_SIZE = 8;

/** The graph input's name and its per-image shape (every dimension after the batch must be fixed). */
export function imageShape(model: OnnxModel): { input: string; dims: number[] } {
  const initializers = new Set(model.graph.initializer.map((t) => t.name));
  const input = model.graph.input.find((i) => !initializers.has(i.name));
  const dims = input?.type.tensorType.shape?.dim ?? [];
  const perImage = dims.slice(1).map((d) => ('dimValue' in d ? d.dimValue : NaN));
  if (!input || perImage.length === 0 || perImage.some((d) => !(d > 0))) {
    throw new QuantizationInputError(
      'model',
      'the input must have fixed dimensions after the batch dimension',
    );
  }
  return { input: input.name, dims: perImage };
}

/** One view per image; throws naming `field` when a batch is not a whole number of images. */
export function splitImages(images: ImageBatches, imageSize: number, field: string): Float32Array[] {
  const batches = images instanceof Float32Array ? [images] : images;
  const out: Float32Array[] = [];
  batches.forEach((batch, b) => {
    if (batch.length === 0 || batch.length % imageSize !== 0) {
      throw new QuantizationInputError(
        field,
        `batch ${b} has ${batch.length} values, not a positive multiple of the ${imageSize} values of one image`,
      );
    }
    for (let i = 0; i < batch.length; i += imageSize) out.push(batch.subarray(i, i + imageSize));
    if (!batch.every(Number.isFinite)) {
      throw new QuantizationInputError(field, `batch ${b} holds values that are not finite numbers`);
    }
  });
  return out;
}

export function checkRunOptions(opts: RunOptions): Required<RunOptions> {
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new QuantizationInputError('opts.batchSize', `must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isInteger(threads) || threads < 1) {
    throw new QuantizationInputError('opts.threads', `must be a positive integer, got ${threads}`);
  }
  return { batchSize, threads };
}

/** A loaded model that runs image batches and hands each batch's outputs to a callback. */
export class OrtRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly input: string,
    private readonly dims: readonly number[],
    private readonly batchSize: number,
  ) {}

  static async open(model: Uint8Array, opts: RunOptions = {}): Promise<OrtRunner> {
    const { batchSize, threads } = checkRunOptions(opts);
    const { input, dims } = imageShape(decodeOnnxModel(model));
    const session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
    });
    return new OrtRunner(session, input, dims, batchSize);
  }

  get imageSize(): number {
    return this.dims.reduce((a, b) => a * b, 1);
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs `images` (per-image views) in batches; `onBatch` gets the first image's index and the outputs. */
  async run(
    images: readonly Float32Array[],
    onBatch: (first: number, count: number, outputs: Readonly<Record<string, Float32Array>>) => void,
  ): Promise<void> {
    const size = this.imageSize;
    for (let first = 0; first < images.length; first += this.batchSize) {
      const count = Math.min(this.batchSize, images.length - first);
      const data = new Float32Array(count * size);
      for (let i = 0; i < count; i++) data.set(images[first + i], i * size);
      const results = await this.session.run({
        [this.input]: new ort.Tensor('float32', data, [count, ...this.dims]),
      });
      const outputs: Record<string, Float32Array> = {};
      for (const [name, tensor] of Object.entries(results)) outputs[name] = tensor.data as Float32Array;
      onBatch(first, count, outputs);
    }
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** The model's first output for every image, concatenated (`perImage` values each). */
export async function runOnnxModel(
  model: Uint8Array,
  images: ImageBatches,
  opts: RunOptions = {},
): Promise<{ output: Float32Array; perImage: number; images: number }> {
  const runner = await OrtRunner.open(model, opts);
  try {
    const list = splitImages(images, runner.imageSize, 'images');
    const name = runner.outputNames[0];
    const chunks: Float32Array[] = [];
    await runner.run(list, (_first, _count, outputs) => chunks.push(outputs[name].slice()));
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const output = new Float32Array(total);
    let at = 0;
    for (const c of chunks) {
      output.set(c, at);
      at += c.length;
    }
    return { output, perImage: total / list.length, images: list.length };
  } finally {
    await runner.release();
  }
}

/**
 * Op types of the graph ONNX Runtime executes after its graph optimisations (level 'extended': the QDQ
 * fusions, without the machine-specific layout changes of 'all'), with their counts. Shows whether an INT8
 * model runs on integer kernels (QLinearConv, QGemm, …) or falls back to float ops between Q/DQ pairs.
 */
export async function ortOptimisedOps(model: Uint8Array): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-ort-'));
  try {
    const file = path.join(dir, 'optimised.onnx');
    const session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: 'extended',
      optimizedModelFilePath: file,
      executionProviders: ['cpu'],
    });
    await session.release();
    const counts: Record<string, number> = {};
    for (const n of decodeOnnxModel(fs.readFileSync(file)).graph.node)
      counts[n.opType] = (counts[n.opType] ?? 0) + 1;
    return counts;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
