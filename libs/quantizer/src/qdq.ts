/**
 * Float ONNX model → static QDQ model (opset 13), in the layout ONNX Runtime's QDQ transformer turns into integer
 * kernels: DequantizeLinear → Conv → QuantizeLinear becomes QLinearConv, and likewise Gemm → QGemm, Add →
 * QLinearAdd, Concat → QLinearConcat, GlobalAveragePool → QLinearGlobalAveragePool; Reshape, Transpose, Flatten
 * and Split between a DequantizeLinear and a QuantizeLinear of equal parameters run on the uint8 data.
 *
 * - Every float activation is quantized once, right after the node that produces it (QuantizeLinear →
 *   DequantizeLinear); its consumers read the dequantized value. The graph input is quantized first.
 * - A Conv whose only consumer is a Relu is not quantized itself: the Relu's output is, with zero point 0, so the
 *   Relu is redundant and ORT folds it into the integer conv.
 * - Data-movement ops (Reshape, Transpose, Flatten, Split) reuse their input's parameters, so no requantization.
 * - A Gemm producing a graph output (the logits) stays float on the output side (QGemm with float output).
 * - Conv and Gemm weights become int8 initializers with per-output-channel scales behind a DequantizeLinear
 *   (axis 0); biases become int32 with scale s_input · s_weight,c, as QLinearConv/QGemm require.
 *
 * Only the ops the EdgeNAS builder writes are accepted; BatchNormalization must have been folded.
 */
import {
  ATTR_FLOAT,
  ATTR_INT,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  TENSOR_FLOAT,
  floatTensor,
  int32Tensor,
  int8Tensor,
  readFloatTensor,
  uint8Tensor,
} from '@edgenas/search-space/onnx';
import { QuantizationInputError } from './errors';
import { ActivationParams, quantizeBias, quantizeWeightsPerChannel, weightQuantMax } from './params';

/** Ops whose output gets its own calibrated parameters. */
const REQUANTIZING_OPS = new Set(['Conv', 'Gemm', 'Relu', 'Add', 'Concat', 'GlobalAveragePool']);
/** Ops that only move or view data: their outputs keep their input's parameters. */
const DATA_MOVEMENT_OPS = new Set(['Reshape', 'Transpose', 'Flatten', 'Split']);
/** Ops with int8 weights. */
export const WEIGHTED_OPS = ['Conv', 'Gemm'] as const;

export interface ActivationPlan {
  /** The float graph input. */
  readonly input: string;
  /** Tensors whose range is calibrated, in graph order (the input first). */
  readonly calibrated: readonly string[];
  /** Every quantized activation → the calibrated tensor whose parameters it uses. */
  readonly paramsOf: ReadonlyMap<string, string>;
}

/** Which activations are quantized and with whose parameters; throws on a model this quantizer cannot handle. */
export function planActivations(model: OnnxModel): ActivationPlan {
  const g = model.graph;
  const initializers = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1 || inputs[0].type.tensorType.elemType !== TENSOR_FLOAT) {
    throw new QuantizationInputError('model', 'the model must have exactly one float input');
  }
  const input = inputs[0].name;
  const graphOutputs = new Set(g.output.map((o) => o.name));
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.node) for (const i of n.input) consumers.set(i, [...(consumers.get(i) ?? []), n]);

  const paramsOf = new Map<string, string>([[input, input]]);
  const calibrated = [input];
  for (const n of g.node) {
    if (n.opType === 'BatchNormalization') {
      throw new QuantizationInputError(
        'model',
        `node "${n.name}" is a BatchNormalization: fold BatchNorm into the conv before quantizing (buildOnnxModel does)`,
      );
    }
    const known = REQUANTIZING_OPS.has(n.opType) || DATA_MOVEMENT_OPS.has(n.opType);
    if ((n.domain ?? '') !== '' || !known) {
      throw new QuantizationInputError(
        'model',
        `node "${n.name}": ${n.opType} is not supported (supported: ${[...REQUANTIZING_OPS, ...DATA_MOVEMENT_OPS].join(', ')})`,
      );
    }
    if (WEIGHTED_OPS.some((op) => op === n.opType)) {
      if (!paramsOf.has(n.input[0])) {
        throw new QuantizationInputError(
          'model',
          `node "${n.name}": its input "${n.input[0]}" is not quantized`,
        );
      }
      if (!initializers.has(n.input[1])) {
        throw new QuantizationInputError('model', `node "${n.name}": its weight must be an initializer`);
      }
    }
    for (const out of n.output) {
      if (DATA_MOVEMENT_OPS.has(n.opType)) {
        const root = paramsOf.get(n.input[0]);
        if (root !== undefined) paramsOf.set(out, root);
        continue;
      }
      const next = consumers.get(out) ?? [];
      const reluFollows = n.opType === 'Conv' && next.length === 1 && next[0].opType === 'Relu';
      const floatLogits = n.opType === 'Gemm' && graphOutputs.has(out);
      if ((reluFollows && !graphOutputs.has(out)) || floatLogits) continue;
      paramsOf.set(out, out);
      calibrated.push(out);
    }
  }
  return { input, calibrated, paramsOf };
}

/** The model with `tensors` added as graph outputs (how calibration reads intermediate values). */
export function withOutputs(model: OnnxModel, tensors: readonly string[]): OnnxModel {
  const present = new Set([...model.graph.output, ...model.graph.input].map((v) => v.name));
  const extra = tensors
    .filter((t) => !present.has(t))
    .map((name) => ({ name, type: { tensorType: { elemType: TENSOR_FLOAT } } }));
  return { ...model, graph: { ...model.graph, output: [...model.graph.output, ...extra] } };
}

/** Per-channel weight scales of every quantized weight, by initializer name. */
export type WeightScales = Record<string, Float32Array>;

const scalarFloat = (name: string, value: number) => floatTensor(name, [], [value]);

function node(name: string, opType: string, input: string[], output: string[], axis?: number): OnnxNode {
  return {
    name,
    opType,
    input,
    output,
    attribute: axis === undefined ? [] : [{ name: 'axis', type: ATTR_INT, i: axis }],
  };
}

export interface QdqOptions {
  /** Weights over ±64 instead of ±127 (see INT8_WEIGHT_MAX_REDUCED). */
  readonly reduceRange: boolean;
  /** metadata_props entries to set on the model. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * The QDQ model of a float model, given the parameters of every calibrated activation (keyed by tensor name, as
 * `planActivations` lists them). Returns the model and the weights' per-channel scales.
 */
export function buildQdqModel(
  model: OnnxModel,
  plan: ActivationPlan,
  params: ReadonlyMap<string, ActivationParams>,
  opts: QdqOptions,
): { model: OnnxModel; weightScales: WeightScales } {
  const metadata = opts.metadata ?? {};
  const qMax = weightQuantMax(opts.reduceRange);
  const g = model.graph;
  const initializers = new Map(g.initializer.map((t) => [t.name, t]));
  const replaced = new Set<string>();
  const added: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  const weightScales: WeightScales = {};

  const paramsFor = (tensor: string): ActivationParams => {
    const root = plan.paramsOf.get(tensor);
    const p = root === undefined ? undefined : params.get(root);
    if (!p) throw new Error(`no quantization parameters for "${tensor}"`);
    return p;
  };
  for (const root of plan.calibrated) {
    const p = paramsFor(root);
    added.push(
      scalarFloat(`${root}.q_scale`, p.scale),
      uint8Tensor(`${root}.q_zero_point`, [], Uint8Array.of(p.zeroPoint)),
    );
  }
  /** QuantizeLinear → DequantizeLinear of `from` (float) into `to`, with the parameters of `tensor`. */
  const quantizeDequantize = (tensor: string, from: string, to: string) => {
    const root = plan.paramsOf.get(tensor)!;
    const qp = [`${root}.q_scale`, `${root}.q_zero_point`];
    nodes.push(node(`${tensor}.quantize`, 'QuantizeLinear', [from, ...qp], [`${tensor}.quantized`]));
    nodes.push(node(`${tensor}.dequantize`, 'DequantizeLinear', [`${tensor}.quantized`, ...qp], [to]));
  };

  const inputDequantized = `${plan.input}.dequantized`;
  quantizeDequantize(plan.input, plan.input, inputDequantized);
  const rename = (t: string) => (t === plan.input ? inputDequantized : t);

  for (const original of g.node) {
    const n: OnnxNode = { ...original, input: original.input.map(rename), output: [...original.output] };
    if (n.opType === 'Conv' || n.opType === 'Gemm') {
      n.attribute = weightedAttributes(n);
      const inputScale = paramsFor(original.input[0]).scale;
      const w = initializers.get(n.input[1])!;
      if (replaced.has(w.name)) throw new QuantizationInputError('model', `weight "${w.name}" is shared`);
      const channels = w.dims[0];
      const q = quantizeWeightsPerChannel(readFloatTensor(w), channels, qMax);
      weightScales[w.name] = q.scales;
      added.push(
        int8Tensor(`${w.name}.quantized`, w.dims, q.values),
        floatTensor(`${w.name}.q_scale`, [channels], q.scales),
        int8Tensor(`${w.name}.q_zero_point`, [channels], new Int8Array(channels)),
      );
      // the DequantizeLinear writes the weight's own name, so the Conv/Gemm node keeps its inputs
      nodes.push(
        node(
          `${w.name}.dequantize`,
          'DequantizeLinear',
          [`${w.name}.quantized`, `${w.name}.q_scale`, `${w.name}.q_zero_point`],
          [w.name],
          0,
        ),
      );
      replaced.add(w.name);
      const b = n.input[2] ? initializers.get(n.input[2]) : undefined;
      if (b) {
        const qb = quantizeBias(readFloatTensor(b), inputScale, q.scales);
        added.push(
          int32Tensor(`${b.name}.quantized`, b.dims, qb.values),
          floatTensor(`${b.name}.q_scale`, [channels], qb.scales),
        );
        // no zero point: an int32 DequantizeLinear's is 0 when absent, and 4 bytes per channel are saved
        nodes.push(
          node(
            `${b.name}.dequantize`,
            'DequantizeLinear',
            [`${b.name}.quantized`, `${b.name}.q_scale`],
            [b.name],
            0,
          ),
        );
        replaced.add(b.name);
      }
    }
    const quantizedOutputs = n.output.filter((o) => plan.paramsOf.has(o));
    n.output = n.output.map((o) => (plan.paramsOf.has(o) ? `${o}.float` : o));
    nodes.push(n);
    for (const o of quantizedOutputs) quantizeDequantize(o, `${o}.float`, o);
  }

  const graph = {
    ...g,
    node: nodes,
    initializer: [...g.initializer.filter((t) => !replaced.has(t.name)), ...added],
  };
  checkUniqueNames(graph.initializer.map((t) => t.name).concat(nodes.flatMap((n) => n.output)));
  const metadataProps = [
    ...model.metadataProps.filter((p) => !(p.key in metadata)),
    ...Object.entries(metadata).map(([key, value]) => ({ key, value })),
  ];
  return { model: { ...model, graph, metadataProps }, weightScales };
}

/**
 * Conv attributes as they are; Gemm's alpha and beta written out (ORT's QGemm fusion reads beta) and its
 * weight required in [cout, cin] layout (transB = 1), the layout per-channel axis 0 assumes.
 */
function weightedAttributes(n: OnnxNode): OnnxNode['attribute'] {
  if (n.opType !== 'Gemm') return n.attribute;
  const attr = (name: string) => n.attribute.find((a) => a.name === name);
  if (attr('transB')?.i !== 1 || (attr('transA')?.i ?? 0) !== 0) {
    throw new QuantizationInputError('model', `Gemm "${n.name}" must have transA = 0 and transB = 1`);
  }
  for (const name of ['alpha', 'beta']) {
    const a = attr(name);
    if (a && a.f !== 1) throw new QuantizationInputError('model', `Gemm "${n.name}" must have ${name} = 1`);
  }
  return [
    ...n.attribute.filter((a) => a.name !== 'alpha' && a.name !== 'beta'),
    { name: 'alpha', type: ATTR_FLOAT, f: 1 },
    { name: 'beta', type: ATTR_FLOAT, f: 1 },
  ];
}

function checkUniqueNames(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`QDQ rewrite produced the tensor name "${n}" twice`);
    seen.add(n);
  }
}
