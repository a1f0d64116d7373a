/**
 * NetworkGraph + weights → an ONNX model (opset 13, IR 7) serialised with protobufjs. BatchNorm is folded into
 * the preceding conv; grouped and depthwise convs use Conv's `group`; the channel shuffle is
 * Reshape → Transpose → Reshape. Input 'input' float32 NCHW with a symbolic batch dimension 'N'.
 */
import { ConvOp, DepthwiseOp, GraphOp, NetworkGraph, ValueShape, isVector } from '../graph';
import { NetworkWeights, checkWeights } from '../weights';
import {
  ATTR_INT,
  ATTR_INTS,
  OnnxAttribute,
  OnnxGraph,
  OnnxNode,
  OnnxTensor,
  OnnxValueInfo,
  TENSOR_FLOAT,
  encodeOnnxModel,
  floatTensor,
  int64Tensor,
} from './model-proto';

export * from './model-proto';

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;
export const ONNX_INPUT_NAME = 'input';
/** Symbolic batch dimension of the input and output. */
export const ONNX_BATCH_DIM = 'N';

const intAttr = (name: string, i: number): OnnxAttribute => ({ name, type: ATTR_INT, i });
const intsAttr = (name: string, ints: number[]): OnnxAttribute => ({ name, type: ATTR_INTS, ints });

/**
 * Fold inference-mode BatchNorm into the conv before it: y = γ·(Wx − μ)/√(σ²+ε) + β
 * = (s·W)x + (β − s·μ) with s = γ/√(σ²+ε), per output channel. `weight` is OIHW (first axis = output channel).
 */
export function foldBatchNorm(
  weight: Float32Array,
  bn: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array },
  epsilon: number,
): { weight: Float32Array; bias: Float32Array } {
  const cout = bn.gamma.length;
  const perOut = weight.length / cout;
  const folded = new Float32Array(weight.length);
  const bias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const s = bn.gamma[o] / Math.sqrt(bn.variance[o] + epsilon);
    for (let j = 0; j < perOut; j++) folded[o * perOut + j] = weight[o * perOut + j] * s;
    bias[o] = bn.beta[o] - s * bn.mean[o];
  }
  return { weight: folded, bias };
}

class OnnxGraphWriter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];

  constructor(
    private readonly graph: NetworkGraph,
    private readonly weights: NetworkWeights,
  ) {}

  private node(
    name: string,
    opType: string,
    input: string[],
    output: string[],
    attribute: OnnxAttribute[] = [],
  ) {
    this.nodes.push({ name, opType, input, output, attribute });
  }

  private constInt64(name: string, values: readonly number[]): string {
    this.initializers.push(int64Tensor(name, values));
    return name;
  }

  private convBn(op: ConvOp | DepthwiseOp): void {
    const cin = op.kind === 'conv' ? op.cin : op.channels;
    const cout = op.kind === 'conv' ? op.cout : op.channels;
    const groups = op.kind === 'conv' ? op.groups : op.channels;
    const w = this.weights;
    const { weight, bias } = foldBatchNorm(
      w[`${op.name}.weight`],
      {
        gamma: w[`${op.name}.bn.gamma`],
        beta: w[`${op.name}.bn.beta`],
        mean: w[`${op.name}.bn.mean`],
        variance: w[`${op.name}.bn.var`],
      },
      this.graph.bnEpsilon,
    );
    this.initializers.push(
      floatTensor(`${op.name}.weight`, [cout, cin / groups, op.kernel, op.kernel], weight),
    );
    this.initializers.push(floatTensor(`${op.name}.bias`, [cout], bias));
    const pad = (op.kernel - 1) / 2;
    const convOut = op.relu ? `${op.name}.conv` : op.output;
    this.node(
      op.name,
      'Conv',
      [op.input, `${op.name}.weight`, `${op.name}.bias`],
      [convOut],
      [
        intsAttr('kernel_shape', [op.kernel, op.kernel]),
        intsAttr('strides', [op.stride, op.stride]),
        intsAttr('pads', [pad, pad, pad, pad]),
        intsAttr('dilations', [1, 1]),
        intAttr('group', groups),
      ],
    );
    if (op.relu) this.node(`${op.name}.relu`, 'Relu', [convOut], [op.output]);
  }

  write(op: GraphOp): void {
    switch (op.kind) {
      case 'conv':
      case 'depthwise':
        return this.convBn(op);
      case 'shuffle': {
        const s = this.graph.values[op.input];
        const g = op.groups;
        const grouped = this.constInt64(`${op.name}.grouped_shape`, [
          -1,
          g,
          op.channels / g,
          s.height,
          s.width,
        ]);
        const flat = this.constInt64(`${op.name}.flat_shape`, [-1, op.channels, s.height, s.width]);
        this.node(`${op.name}.reshape1`, 'Reshape', [op.input, grouped], [`${op.name}.grouped`]);
        this.node(
          `${op.name}.transpose`,
          'Transpose',
          [`${op.name}.grouped`],
          [`${op.name}.transposed`],
          [intsAttr('perm', [0, 2, 1, 3, 4])],
        );
        this.node(`${op.name}.reshape2`, 'Reshape', [`${op.name}.transposed`, flat], [op.output]);
        return;
      }
      case 'split': {
        const sizes = this.constInt64(`${op.name}.sizes`, op.sizes);
        this.node(op.name, 'Split', [op.input, sizes], [...op.outputs], [intAttr('axis', 1)]);
        return;
      }
      case 'concat':
        this.node(op.name, 'Concat', [...op.inputs], [op.output], [intAttr('axis', 1)]);
        return;
      case 'add':
        this.node(op.name, 'Add', [...op.inputs], [op.output]);
        return;
      case 'gap':
        this.node(op.name, 'GlobalAveragePool', [op.input], [`${op.name}.pooled`]);
        this.node(`${op.name}.flatten`, 'Flatten', [`${op.name}.pooled`], [op.output], [intAttr('axis', 1)]);
        return;
      case 'fc':
        this.initializers.push(
          floatTensor(`${op.name}.weight`, [op.cout, op.cin], this.weights[`${op.name}.weight`]),
        );
        this.initializers.push(floatTensor(`${op.name}.bias`, [op.cout], this.weights[`${op.name}.bias`]));
        // Gemm: Y = X · Bᵀ + C with B = weight [cout, cin].
        this.node(
          op.name,
          'Gemm',
          [op.input, `${op.name}.weight`, `${op.name}.bias`],
          [op.output],
          [intAttr('transB', 1)],
        );
        return;
    }
  }
}

type Dim = number | string;

function valueInfo(name: string, dims: readonly Dim[]): OnnxValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: TENSOR_FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function batchedDims(batch: Dim, shape: ValueShape): Dim[] {
  return isVector(shape) ? [batch, shape.channels] : [batch, shape.channels, shape.height, shape.width];
}

export interface OnnxModelOptions {
  /** Written into the model's doc string (e.g. the architecture string). */
  readonly docString?: string;
  /** Extra metadata_props entries (e.g. architecture id, space). */
  readonly metadata?: Readonly<Record<string, string>>;
}

function serialise(graph: OnnxGraph, opts: OnnxModelOptions): Uint8Array {
  return encodeOnnxModel({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'edgenas',
    producerVersion: '0.1.0',
    docString: opts.docString ?? '',
    graph,
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
}

/** The ONNX model of a network graph with its weights (BatchNorm folded). */
export function buildOnnxModel(
  graph: NetworkGraph,
  weights: NetworkWeights,
  opts: OnnxModelOptions = {},
): Uint8Array {
  checkWeights(graph, weights);
  const writer = new OnnxGraphWriter(graph, weights);
  for (const op of graph.ops) writer.write(op);
  return serialise(
    {
      name: graph.name,
      node: writer.nodes,
      initializer: writer.initializers,
      input: [valueInfo(graph.input, batchedDims(ONNX_BATCH_DIM, graph.inputShape))],
      output: [valueInfo(graph.output, batchedDims(ONNX_BATCH_DIM, graph.outputShape))],
    },
    opts,
  );
}

/**
 * A near-zero-compute model with the given (fixed) input and output shapes: Slice one element of the input,
 * Reshape it to [1] and Expand it to the output shape. Measures per-run overhead (binding, output allocation
 * and copy) of a model of that input/output size.
 */
export function buildNullOnnxModel(
  inputShape: readonly number[],
  outputShape: readonly number[],
  opts: OnnxModelOptions & { readonly outputName?: string } = {},
): Uint8Array {
  for (const [what, shape] of [
    ['input', inputShape],
    ['output', outputShape],
  ] as const) {
    if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`null model: ${what} shape [${shape.join(', ')}] must be positive integers`);
    }
  }
  const outputName = opts.outputName ?? 'output';
  const rank = inputShape.length;
  return serialise(
    {
      name: 'null',
      node: [
        {
          name: 'slice',
          opType: 'Slice',
          input: ['input', 'starts', 'ends'],
          output: ['one'],
          attribute: [],
        },
        {
          name: 'reshape',
          opType: 'Reshape',
          input: ['one', 'scalar_shape'],
          output: ['scalar'],
          attribute: [],
        },
        {
          name: 'expand',
          opType: 'Expand',
          input: ['scalar', 'output_shape'],
          output: [outputName],
          attribute: [],
        },
      ],
      initializer: [
        int64Tensor('starts', new Array<number>(rank).fill(0)),
        int64Tensor('ends', new Array<number>(rank).fill(1)),
        int64Tensor('scalar_shape', [1]),
        int64Tensor('output_shape', outputShape),
      ],
      input: [valueInfo(ONNX_INPUT_NAME, inputShape)],
      output: [valueInfo(outputName, outputShape)],
    },
    opts,
  );
}
