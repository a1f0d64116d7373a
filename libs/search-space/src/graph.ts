/**
 * Lowering: architecture (or a single LUT block signature) → a flat, typed network graph. This is the one place
 * that says what each block computes; the ONNX and tfjs builders only translate ops.
 *
 * Tensors are named values with a per-sample shape (channels, height, width); the batch dimension is implicit.
 * Every conv (dense, grouped or depthwise) is followed by BatchNorm; parameters are named
 * `<op>.weight` (OIHW) and `<op>.bn.{gamma,beta,mean,var}`; the classifier has `fc.weight` [classes, cin] and
 * `fc.bias`. Padding is symmetric (k−1)/2, so a conv's output size is ceil(n / stride).
 */
import { BLOCKS, BlockType } from './blocks';
import { Architecture, convOutputSize, layoutLayers } from './architecture';
import { MacroConfig } from './macro-configs';
import { BlockSignature } from './signature';

/** Per-sample shape of a value: a feature map (C×H×W) or a vector (height = width = 0). */
export interface ValueShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** Dense or grouped conv (groups ≥ 1), always followed by BatchNorm, then ReLU when `relu`. */
export interface ConvOp {
  readonly kind: 'conv';
  readonly name: string;
  readonly input: string;
  readonly output: string;
  readonly kernel: number;
  readonly stride: number;
  readonly groups: number;
  readonly cin: number;
  readonly cout: number;
  readonly bn: true;
  readonly relu: boolean;
}

/** Depthwise k×k conv (one filter per channel), always followed by BatchNorm, then ReLU when `relu`. */
export interface DepthwiseOp {
  readonly kind: 'depthwise';
  readonly name: string;
  readonly input: string;
  readonly output: string;
  readonly kernel: number;
  readonly stride: number;
  readonly channels: number;
  readonly bn: true;
  readonly relu: boolean;
}

/** ShuffleNet channel shuffle: view C as [groups, C/groups], transpose to [C/groups, groups], flatten. */
export interface ShuffleOp {
  readonly kind: 'shuffle';
  readonly name: string;
  readonly input: string;
  readonly output: string;
  readonly groups: number;
  readonly channels: number;
}

/** Split along channels into consecutive parts of the given sizes. */
export interface SplitOp {
  readonly kind: 'split';
  readonly name: string;
  readonly input: string;
  readonly outputs: readonly string[];
  readonly sizes: readonly number[];
}

/** Concatenate along channels, in input order. */
export interface ConcatOp {
  readonly kind: 'concat';
  readonly name: string;
  readonly inputs: readonly string[];
  readonly output: string;
}

/** Element-wise residual add. */
export interface AddOp {
  readonly kind: 'add';
  readonly name: string;
  readonly inputs: readonly [string, string];
  readonly output: string;
}

/** Global average pool over H×W to a C-vector. */
export interface GlobalAvgPoolOp {
  readonly kind: 'gap';
  readonly name: string;
  readonly input: string;
  readonly output: string;
  readonly channels: number;
}

/** Fully connected layer with bias: [cin] → [cout]. */
export interface FullyConnectedOp {
  readonly kind: 'fc';
  readonly name: string;
  readonly input: string;
  readonly output: string;
  readonly cin: number;
  readonly cout: number;
}

export type GraphOp =
  ConvOp | DepthwiseOp | ShuffleOp | SplitOp | ConcatOp | AddOp | GlobalAvgPoolOp | FullyConnectedOp;

export type ParamRole =
  'conv_weight' | 'bn_gamma' | 'bn_beta' | 'bn_mean' | 'bn_var' | 'fc_weight' | 'fc_bias';

export interface ParamSpec {
  readonly name: string;
  /** The op that owns it. */
  readonly op: string;
  readonly role: ParamRole;
  /** Conv weights OIHW [cout, cin/groups, k, k]; depthwise [c, 1, k, k]; fc [cout, cin]; BN and bias [c]. */
  readonly shape: readonly number[];
  /** Inputs feeding one output unit (for He initialisation); 0 for BN/bias. */
  readonly fanIn: number;
  /** Trained by gradient descent (BN moving statistics are not). */
  readonly trainable: boolean;
}

export interface NetworkGraph {
  readonly name: string;
  /** Always 'input'. */
  readonly input: string;
  readonly inputShape: ValueShape;
  /** 'logits' for classifiers, 'output' for feature-map networks (single blocks, the stem). */
  readonly output: string;
  readonly outputShape: ValueShape;
  readonly ops: readonly GraphOp[];
  readonly params: readonly ParamSpec[];
  /** Shape of every value, keyed by name. */
  readonly values: Readonly<Record<string, ValueShape>>;
  readonly bnEpsilon: number;
}

export const GRAPH_INPUT = 'input';
export const LOGITS_OUTPUT = 'logits';
export const FEATURE_OUTPUT = 'output';
export const BN_EPSILON = 1e-5;

export class GraphError extends Error {
  override name = 'GraphError';
}

export function isVector(shape: ValueShape): boolean {
  return shape.height === 0 && shape.width === 0;
}

/** Incremental builder: appends ops, tracks value shapes and parameter specs. */
class GraphBuilder {
  readonly ops: GraphOp[] = [];
  readonly params: ParamSpec[] = [];
  readonly values: Record<string, ValueShape> = {};

  constructor(inputShape: ValueShape) {
    this.values[GRAPH_INPUT] = inputShape;
  }

  shape(value: string): ValueShape {
    const s = this.values[value];
    if (!s) throw new GraphError(`unknown value "${value}"`);
    return s;
  }

  private define(name: string, shape: ValueShape): string {
    if (this.values[name]) throw new GraphError(`value "${name}" defined twice`);
    this.values[name] = shape;
    return name;
  }

  private bnParams(op: string, channels: number): void {
    const roles: [ParamRole, string, boolean][] = [
      ['bn_gamma', 'gamma', true],
      ['bn_beta', 'beta', true],
      ['bn_mean', 'mean', false],
      ['bn_var', 'var', false],
    ];
    for (const [role, suffix, trainable] of roles) {
      this.params.push({ name: `${op}.bn.${suffix}`, op, role, shape: [channels], fanIn: 0, trainable });
    }
  }

  conv(
    name: string,
    input: string,
    o: { k: number; stride: number; groups: number; cout: number; relu: boolean },
  ) {
    const s = this.shape(input);
    const cin = s.channels;
    if (cin % o.groups !== 0 || o.cout % o.groups !== 0) {
      throw new GraphError(`${name}: channels ${cin}→${o.cout} not divisible by ${o.groups} groups`);
    }
    const op: ConvOp = {
      kind: 'conv',
      name,
      input,
      output: name,
      kernel: o.k,
      stride: o.stride,
      groups: o.groups,
      cin,
      cout: o.cout,
      bn: true,
      relu: o.relu,
    };
    this.ops.push(op);
    const fanIn = (cin / o.groups) * o.k * o.k;
    this.params.push({
      name: `${name}.weight`,
      op: name,
      role: 'conv_weight',
      shape: [o.cout, cin / o.groups, o.k, o.k],
      fanIn,
      trainable: true,
    });
    this.bnParams(name, o.cout);
    return this.define(name, {
      channels: o.cout,
      height: convOutputSize(s.height, o.stride),
      width: convOutputSize(s.width, o.stride),
    });
  }

  depthwise(name: string, input: string, o: { k: number; stride: number; relu: boolean }) {
    const s = this.shape(input);
    const op: DepthwiseOp = {
      kind: 'depthwise',
      name,
      input,
      output: name,
      kernel: o.k,
      stride: o.stride,
      channels: s.channels,
      bn: true,
      relu: o.relu,
    };
    this.ops.push(op);
    this.params.push({
      name: `${name}.weight`,
      op: name,
      role: 'conv_weight',
      shape: [s.channels, 1, o.k, o.k],
      fanIn: o.k * o.k,
      trainable: true,
    });
    this.bnParams(name, s.channels);
    return this.define(name, {
      channels: s.channels,
      height: convOutputSize(s.height, o.stride),
      width: convOutputSize(s.width, o.stride),
    });
  }

  shuffle(name: string, input: string, groups: number) {
    const s = this.shape(input);
    if (s.channels % groups !== 0)
      throw new GraphError(`${name}: ${s.channels} channels not divisible by ${groups}`);
    this.ops.push({ kind: 'shuffle', name, input, output: name, groups, channels: s.channels });
    return this.define(name, s);
  }

  split(name: string, input: string, sizes: readonly number[]): string[] {
    const s = this.shape(input);
    if (sizes.reduce((a, b) => a + b, 0) !== s.channels) {
      throw new GraphError(`${name}: split sizes ${sizes.join('+')} ≠ ${s.channels} channels`);
    }
    const outputs = sizes.map((_, i) => `${name}.${i}`);
    this.ops.push({ kind: 'split', name, input, outputs, sizes });
    return outputs.map((o, i) => this.define(o, { ...s, channels: sizes[i] }));
  }

  concat(name: string, inputs: readonly string[]) {
    const shapes = inputs.map((i) => this.shape(i));
    if (shapes.some((s) => s.height !== shapes[0].height || s.width !== shapes[0].width)) {
      throw new GraphError(`${name}: concat of different spatial sizes`);
    }
    this.ops.push({ kind: 'concat', name, inputs, output: name });
    return this.define(name, { ...shapes[0], channels: shapes.reduce((n, s) => n + s.channels, 0) });
  }

  add(name: string, a: string, b: string) {
    const sa = this.shape(a);
    const sb = this.shape(b);
    if (sa.channels !== sb.channels || sa.height !== sb.height || sa.width !== sb.width) {
      throw new GraphError(`${name}: residual add of different shapes`);
    }
    this.ops.push({ kind: 'add', name, inputs: [a, b], output: name });
    return this.define(name, sa);
  }

  gap(name: string, input: string) {
    const s = this.shape(input);
    this.ops.push({ kind: 'gap', name, input, output: name, channels: s.channels });
    return this.define(name, { channels: s.channels, height: 0, width: 0 });
  }

  fc(name: string, input: string, cout: number) {
    const s = this.shape(input);
    if (!isVector(s)) throw new GraphError(`${name}: fully connected layer needs a vector input`);
    this.ops.push({ kind: 'fc', name, input, output: name, cin: s.channels, cout });
    this.params.push({
      name: `${name}.weight`,
      op: name,
      role: 'fc_weight',
      shape: [cout, s.channels],
      fanIn: s.channels,
      trainable: true,
    });
    this.params.push({
      name: `${name}.bias`,
      op: name,
      role: 'fc_bias',
      shape: [cout],
      fanIn: 0,
      trainable: true,
    });
    return this.define(name, { channels: cout, height: 0, width: 0 });
  }

  /** Finalise: the last value is renamed to the canonical output name. */
  finish(name: string, last: string, inputShape: ValueShape): NetworkGraph {
    const outputShape = this.shape(last);
    const output = isVector(outputShape) ? LOGITS_OUTPUT : FEATURE_OUTPUT;
    if (last === GRAPH_INPUT) throw new GraphError(`${name}: the network computes nothing (all identity)`);
    const rename = (v: string) => (v === last ? output : v);
    const ops = this.ops.map((op): GraphOp => {
      switch (op.kind) {
        case 'split':
          return { ...op, input: rename(op.input), outputs: op.outputs.map(rename) };
        case 'concat':
          return { ...op, inputs: op.inputs.map(rename), output: rename(op.output) };
        case 'add':
          return { ...op, inputs: [rename(op.inputs[0]), rename(op.inputs[1])], output: rename(op.output) };
        default:
          return { ...op, input: rename(op.input), output: rename(op.output) };
      }
    });
    const values: Record<string, ValueShape> = {};
    for (const [k, v] of Object.entries(this.values)) values[rename(k)] = v;
    return {
      name,
      input: GRAPH_INPUT,
      inputShape,
      output,
      outputShape,
      ops,
      params: this.params,
      values,
      bnEpsilon: BN_EPSILON,
    };
  }
}

interface BlockPlacement {
  readonly block: BlockType;
  readonly stride: number;
  readonly cout: number;
}

/** k×k conv (stride) → BN → ReLU. */
function lowerStem(g: GraphBuilder, input: string, k: number, stride: number, cout: number): string {
  return g.conv('stem', input, { k, stride, groups: 1, cout, relu: true });
}

/** 1x1 conv → BN → ReLU → global average pool → fully connected. */
function lowerHead(g: GraphBuilder, input: string, channels: number, classes: number): string {
  const x = g.conv('head.conv', input, { k: 1, stride: 1, groups: 1, cout: channels, relu: true });
  const pooled = g.gap('head.pool', x);
  return g.fc('fc', pooled, classes);
}

/** What one searchable block computes (see blocks.ts). Returns the output value. */
function lowerBlock(g: GraphBuilder, prefix: string, input: string, p: BlockPlacement): string {
  const spec = BLOCKS[p.block];
  const cin = g.shape(input).channels;
  const sameShape = p.stride === 1 && cin === p.cout;
  switch (spec.family) {
    case 'skip':
      if (!sameShape)
        throw new GraphError(
          `${prefix}: skip where the shape changes (${cin}→${p.cout}, stride ${p.stride})`,
        );
      return input;
    case 'ir': {
      const mid = spec.expansion * cin;
      const k = spec.kernel;
      let x = g.conv(`${prefix}.expand`, input, {
        k: 1,
        stride: 1,
        groups: spec.groups,
        cout: mid,
        relu: true,
      });
      if (spec.groups > 1) x = g.shuffle(`${prefix}.shuffle`, x, spec.groups);
      x = g.depthwise(`${prefix}.dw`, x, { k, stride: p.stride, relu: true });
      x = g.conv(`${prefix}.project`, x, { k: 1, stride: 1, groups: spec.groups, cout: p.cout, relu: false });
      return sameShape ? g.add(`${prefix}.add`, input, x) : x;
    }
    case 'shuffle': {
      const k = spec.kernel;
      if (sameShape) {
        if (cin % 2 !== 0)
          throw new GraphError(`${prefix}: shuffle unit needs an even channel count (${cin})`);
        const half = cin / 2;
        const [identity, branch] = g.split(`${prefix}.split`, input, [half, half]);
        let b = g.conv(`${prefix}.branch.pw1`, branch, {
          k: 1,
          stride: 1,
          groups: 1,
          cout: half,
          relu: true,
        });
        b = g.depthwise(`${prefix}.branch.dw`, b, { k, stride: 1, relu: false });
        b = g.conv(`${prefix}.branch.pw2`, b, { k: 1, stride: 1, groups: 1, cout: half, relu: true });
        const cat = g.concat(`${prefix}.concat`, [identity, b]);
        return g.shuffle(`${prefix}.shuffle`, cat, 2);
      }
      if (p.cout % 2 !== 0)
        throw new GraphError(`${prefix}: shuffle unit needs an even output channel count (${p.cout})`);
      const half = p.cout / 2;
      let a = g.depthwise(`${prefix}.left.dw`, input, { k, stride: p.stride, relu: false });
      a = g.conv(`${prefix}.left.pw`, a, { k: 1, stride: 1, groups: 1, cout: half, relu: true });
      let b = g.conv(`${prefix}.right.pw1`, input, { k: 1, stride: 1, groups: 1, cout: half, relu: true });
      b = g.depthwise(`${prefix}.right.dw`, b, { k, stride: p.stride, relu: false });
      b = g.conv(`${prefix}.right.pw2`, b, { k: 1, stride: 1, groups: 1, cout: half, relu: true });
      const cat = g.concat(`${prefix}.concat`, [a, b]);
      return g.shuffle(`${prefix}.shuffle`, cat, 2);
    }
  }
}

/** The whole network of an architecture on a macro config: stem, searchable layers, head, classifier. */
export function lowerArchitecture(arch: Architecture, config: MacroConfig): NetworkGraph {
  const layers = layoutLayers(arch.blocks, config);
  if (arch.blocks.length !== layers.length) {
    throw new GraphError(
      `architecture has ${arch.blocks.length} blocks, ${config.name} has ${layers.length} layers`,
    );
  }
  const inputShape: ValueShape = {
    channels: config.input.channels,
    height: config.input.height,
    width: config.input.width,
  };
  const g = new GraphBuilder(inputShape);
  let x = lowerStem(g, GRAPH_INPUT, config.stem.kernel, config.stem.stride, config.stem.channels);
  for (const layer of layers) {
    x = lowerBlock(g, `layers.${layer.index}`, x, {
      block: layer.block,
      stride: layer.stride,
      cout: layer.cout,
    });
  }
  x = lowerHead(g, x, config.head.channels, config.classes);
  return g.finish(config.name, x, inputShape);
}

/**
 * A standalone network for one LUT entry (a block, the stem or the head), input [1, cin, h, w], as the device
 * agent benchmarks it. The stem and head are lowered by the same functions as in `lowerArchitecture`.
 */
export function lowerSignature(sig: BlockSignature): NetworkGraph {
  const inputShape: ValueShape = { channels: sig.cin, height: sig.height, width: sig.width };
  const g = new GraphBuilder(inputShape);
  let x: string;
  if (sig.op === 'stem') {
    x = lowerStem(g, GRAPH_INPUT, sig.kernel, sig.stride, sig.cout);
  } else if (sig.op === 'head') {
    x = lowerHead(g, GRAPH_INPUT, sig.cout, sig.classes);
  } else {
    x = lowerBlock(g, 'block', GRAPH_INPUT, { block: sig.op, stride: sig.stride, cout: sig.cout });
  }
  return g.finish(sig.op, x, inputShape);
}

export interface GraphCost {
  /** Multiply-accumulates of convs and the classifier (BN, ReLU, add, pool, shuffle are not counted). */
  readonly macs: number;
  /** Trainable parameters: conv weights, BN gamma and beta, classifier weight and bias. */
  readonly params: number;
}

/** MACs and parameters read off the ops. */
export function graphCost(graph: NetworkGraph): GraphCost {
  let macs = 0;
  for (const op of graph.ops) {
    const out = graph.values[op.kind === 'split' ? op.outputs[0] : op.output];
    const spatial = out.height * out.width;
    if (op.kind === 'conv') macs += spatial * op.cout * (op.cin / op.groups) * op.kernel * op.kernel;
    else if (op.kind === 'depthwise') macs += spatial * op.channels * op.kernel * op.kernel;
    else if (op.kind === 'fc') macs += op.cin * op.cout;
  }
  const params = graph.params
    .filter((p) => p.trainable)
    .reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  return { macs, params };
}
