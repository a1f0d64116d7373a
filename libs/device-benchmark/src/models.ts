import { Architecture, BlockSignature, MacroConfig, signatureKey } from '@edgenas/search-space';
import {
  NetworkGraph,
  ValueShape,
  graphCost,
  lowerArchitecture,
  lowerSignature,
} from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildNullOnnxModel, buildOnnxModel } from '@edgenas/search-space/onnx';

/** An ONNX model ready to benchmark, with the NCHW shape of its single input. */
export interface BenchmarkModel {
  readonly label: string;
  readonly model: Uint8Array;
  readonly inputShape: readonly number[];
  /** Key of the input/output sizes: items with equal keys share one null model. */
  readonly ioKey: string;
  readonly graph: NetworkGraph;
}

/** Weights do not change the cost of dense float kernels; a fixed seed keeps models reproducible. */
const WEIGHT_SEED = 1;

function nchw(shape: ValueShape): number[] {
  return shape.height === 0 && shape.width === 0
    ? [1, shape.channels]
    : [1, shape.channels, shape.height, shape.width];
}

function ioKey(graph: NetworkGraph): string {
  return `${nchw(graph.inputShape).join('x')}->${nchw(graph.outputShape).join('x')}`;
}

function fromGraph(label: string, graph: NetworkGraph): BenchmarkModel {
  return {
    label,
    model: buildOnnxModel(graph, initWeights(graph, WEIGHT_SEED)),
    inputShape: nchw(graph.inputShape),
    ioKey: ioKey(graph),
    graph,
  };
}

/** One LUT entry (block, stem or head) as a standalone model, exactly as the network lowers it. */
export function signatureModel(sig: BlockSignature): BenchmarkModel {
  return fromGraph(signatureKey(sig), lowerSignature(sig));
}

export function architectureModel(label: string, arch: Architecture, config: MacroConfig): BenchmarkModel {
  return fromGraph(label, lowerArchitecture(arch, config));
}

/**
 * A given ONNX file of the architecture (a final model's trained float or INT8 file), measured as it is: the
 * architecture only tells its input shape. Its first input must take float32 NCHW at the config's input size.
 */
export function modelFileModel(
  label: string,
  onnx: Uint8Array,
  arch: Architecture,
  config: MacroConfig,
): BenchmarkModel {
  const graph = lowerArchitecture(arch, config);
  return { label, model: onnx, inputShape: nchw(graph.inputShape), ioKey: ioKey(graph), graph };
}

/**
 * A model of the same input and output sizes as `of` that computes (almost) nothing: what an isolated model
 * pays per run for binding and copying its input and output.
 */
export function nullModelFor(of: BenchmarkModel): BenchmarkModel {
  const graph = of.graph;
  return {
    label: `null:${of.ioKey}`,
    model: buildNullOnnxModel(nchw(graph.inputShape), nchw(graph.outputShape), { outputName: graph.output }),
    inputShape: of.inputShape,
    ioKey: of.ioKey,
    graph,
  };
}

/** Multiply-accumulates of a signature's block, to pick a mid-cost reference for the drift check. */
export function signatureMacs(sig: BlockSignature): number {
  return graphCost(lowerSignature(sig)).macs;
}
