/**
 * The supernet's weights: one bank per searchable layer, shared by every block of that layer, plus the fixed
 * stem, head and classifier. A path (an architecture) is a view of the bank:
 *
 * - All `ir_*` blocks of a layer share one entangled set, Once-for-All style: the bank holds the widest block
 *   (expansion 6, kernel 5, dense 1x1 convs). Expansion e takes the first e·cin channels of the expand conv,
 *   its BN and the depthwise conv, and the first e·cin input columns of the project conv; kernel 3 is the
 *   centre of the 5×5 filter; the g2 blocks take the block-diagonal slices of both 1x1 convs, in the channel
 *   order their shuffle produces, so every feature channel keeps one set of filters whichever block reads it.
 *   The project conv's BN (the block's output) is shared by all ir blocks.
 * - Shuffle units share one set per layer (kernel 3 is the centre of kernel 5); their 1x1 convs differ in
 *   shape from the ir ones, so they cannot share those.
 * - Channels keep their meaning along a path. A stride-1 ShuffleNet unit passes half its channels through and
 *   then shuffles: downstream layers see the same features in another order. The bank therefore stores every
 *   weight that touches the layer-to-layer stream in one canonical channel order, and a path carries a basis
 *   (which canonical channel each of its stream channels is) from layer to layer: weights reading the stream
 *   take their input columns in that order, residual outputs and BN are permuted likewise, and a stride-1
 *   shuffle unit's branch reads and rewrites the canonical channels it takes (its bank convs span all C
 *   channels). Without this, almost every sampled path would scramble the stream for the layers after it.
 * - The γ of an ir layer's output BN starts at 0 where the block is residual: a freshly sampled path then
 *   starts as identity there instead of adding unit-variance noise (plain SPOS did not learn without it).
 *
 * A path's parameters are gathered from the bank by index maps (per layer and block, built once) and written
 * back after an update: only the elements the path used change. The bank also keeps the optimizer's slots
 * beside every weight, so Adam's moments survive paths being rebuilt.
 */
import {
  Architecture,
  BLOCKS,
  BlockType,
  MacroConfig,
  ResolvedLayer,
  layoutLayers,
  validChoicesPerLayer,
} from '@edgenas/search-space';
import { NetworkGraph, ParamSpec, lowerArchitecture } from '@edgenas/search-space/graph';
import { NetworkWeights, initWeights, paramSize } from '@edgenas/search-space/weights';

/** The widest ir block: its weights are the bank every ir block of a layer slices. */
const WIDEST_IR: BlockType = 'ir_k5_e6';
const WIDEST_SHUFFLE: BlockType = 'shuffle_k5';
const MAX_KERNEL = 5;

/** One bank entry: the weight and, for trainable ones, the optimizer slots (canonical layouts). */
export interface BankEntry {
  readonly spec: ParamSpec;
  readonly value: Float32Array;
  /** Adam's first moment (or SGD's momentum); trainable entries only. */
  readonly m?: Float32Array;
  /** Adam's second moment; trainable entries only. */
  readonly s?: Float32Array;
}

/** Where a path parameter's elements live in the bank: `path[i] = bank[entry][indices[i]]`. */
export interface ParamMapping {
  readonly spec: ParamSpec;
  readonly entry: string;
  /** undefined: the whole entry, in order (same shape). */
  readonly indices?: Int32Array;
}

export interface PathView {
  readonly graph: NetworkGraph;
  readonly mappings: readonly ParamMapping[];
}

export class SupernetError extends Error {
  override name = 'SupernetError';
}

/** The channel a g2 shuffle puts at position q: view C as [2, C/2], transpose, flatten. */
function shuffleSource(q: number, channels: number): number {
  const half = channels / 2;
  return (q % 2) * half + Math.floor(q / 2);
}

function isResidualLayer(layer: ResolvedLayer): boolean {
  return layer.stride === 1 && layer.cin === layer.cout;
}

/** The architecture with `block` at every layer where it fits and `fallback` elsewhere. */
function fillWith(choices: readonly BlockType[][], block: BlockType, fallback: BlockType): Architecture {
  return { blocks: choices.map((cs) => (cs.includes(block) ? block : fallback)) };
}

export class WeightBank {
  readonly entries = new Map<string, BankEntry>();
  /** The blocks each layer may take (valid on the bank's config). */
  readonly choices: readonly BlockType[][];
  private readonly layers: readonly ResolvedLayer[];
  /** Index maps of layers whose input basis is the canonical one, per (layer, block). */
  private readonly mappingCache = new Map<string, LayerMappings>();

  private constructor(
    readonly config: MacroConfig,
    choices: BlockType[][],
    /** The blocks the bank was laid out for (undefined: every block of the space). */
    readonly blockTypes: readonly BlockType[] | undefined,
  ) {
    this.choices = choices;
    this.layers = layoutLayers([], config);
  }

  /**
   * A freshly initialised bank on `config` (the proxy geometry), seeded. `blockTypes` restricts the choices
   * (default: every block of the space).
   */
  static create(config: MacroConfig, seed: number, blockTypes?: readonly BlockType[]): WeightBank {
    return WeightBank.layOut(config, blockTypes, seed);
  }

  /** The bank's entries, initialised from `seed`, or zero-filled (to be overwritten) without one. */
  private static layOut(config: MacroConfig, blockTypes: readonly BlockType[] | undefined, seed?: number) {
    const bank = new WeightBank(config, validChoicesPerLayer(config, blockTypes), blockTypes);
    const sources = [fillWith(bank.choices, WIDEST_IR, WIDEST_IR)];
    if (bank.choices.some((cs) => cs.includes(WIDEST_SHUFFLE))) {
      sources.push(fillWith(bank.choices, WIDEST_SHUFFLE, WIDEST_IR));
    }
    sources.forEach((arch, n) => {
      const graph = lowerArchitecture(arch, config);
      const specs = graph.params
        .filter((spec) => !bank.entries.has(spec.name))
        .map((spec) => bank.bankSpec(spec));
      const init =
        seed === undefined
          ? undefined
          : initWeights({ ...graph, params: specs }, (seed + n * 0x9e3779b9) >>> 0);
      for (const spec of specs) {
        const value = init ? init[spec.name] : new Float32Array(paramSize(spec));
        bank.entries.set(spec.name, {
          spec,
          value,
          m: spec.trainable ? new Float32Array(value.length) : undefined,
          s: spec.trainable ? new Float32Array(value.length) : undefined,
        });
      }
    });
    for (const layer of bank.layers) {
      if (!isResidualLayer(layer)) continue;
      bank.entries.get(`layers.${layer.index}.project.bn.gamma`)?.value.fill(0);
    }
    return bank;
  }

  /** A bank with the given entries (a loaded artifact); the specs must be those `create` makes. */
  static fromEntries(
    config: MacroConfig,
    entries: readonly (Omit<BankEntry, 'spec'> & { readonly name: string })[],
    blockTypes?: readonly BlockType[],
  ) {
    const bank = WeightBank.layOut(config, blockTypes);
    const expected = new Set(bank.entries.keys());
    for (const e of entries) {
      const mine = bank.entries.get(e.name);
      if (!mine || mine.value.length !== e.value.length) {
        throw new SupernetError(`supernet entry "${e.name}" does not belong to a ${config.name} supernet`);
      }
      bank.entries.set(e.name, { spec: mine.spec, value: e.value, m: e.m, s: e.s });
      expected.delete(e.name);
    }
    if (expected.size > 0) {
      throw new SupernetError(`supernet lacks ${expected.size} entries (e.g. "${[...expected][0]}")`);
    }
    return bank;
  }

  /** Weights held by the bank (not counting optimizer slots). */
  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.value.length;
    return n;
  }

  /** The path of `arch`: its graph and where each of its parameters lives in the bank. */
  view(arch: Architecture): PathView {
    arch.blocks.forEach((block, i) => {
      if (!this.choices[i]?.includes(block)) {
        throw new SupernetError(`layer ${i}: block ${block} is not a choice of this supernet`);
      }
    });
    const graph = lowerArchitecture(arch, this.config);
    const byLayer = new Map<string, ParamSpec[]>();
    const fixed: ParamSpec[] = [];
    for (const p of graph.params) {
      const m = /^layers\.(\d+)\./.exec(p.name);
      if (!m) fixed.push(p);
      else byLayer.set(m[1], [...(byLayer.get(m[1]) ?? []), p]);
    }
    const mappings: ParamMapping[] = [];
    let basis: Basis = undefined;
    arch.blocks.forEach((block, i) => {
      const layer = this.layerMappings(i, block, basis, byLayer.get(String(i)) ?? []);
      mappings.push(...layer.mappings);
      basis = layer.outBasis;
    });
    for (const spec of fixed) {
      mappings.push(
        spec.name === 'head.conv.weight' ? this.readsStream(spec, spec.name, basis) : this.whole(spec),
      );
    }
    if (mappings.length !== graph.params.length) {
      throw new SupernetError(`internal: ${mappings.length} mappings for ${graph.params.length} parameters`);
    }
    // In the graph's parameter order, which is the order of a built network's variables.
    const order = new Map(graph.params.map((p, i) => [p.name, i]));
    mappings.sort((a, b) => (order.get(a.spec.name) as number) - (order.get(b.spec.name) as number));
    return { graph, mappings };
  }

  /** The path's weights (canonical layouts), ready for a network builder. */
  gatherWeights(view: PathView): NetworkWeights {
    const out: NetworkWeights = {};
    for (const m of view.mappings) out[m.spec.name] = this.gather(m, 'value');
    return out;
  }

  /** The path's optimizer slots of its trainable parameters, in graph order (a built network's variables'). */
  gatherSlots(view: PathView): { m: Float32Array; s: Float32Array }[] {
    return view.mappings
      .filter((m) => m.spec.trainable)
      .map((m) => ({ m: this.gather(m, 'm'), s: this.gather(m, 's') }));
  }

  /** Writes a path's weights (all of them, BN statistics included) back into the bank. */
  scatterWeights(view: PathView, weights: NetworkWeights): void {
    for (const m of view.mappings) this.scatter(m, 'value', weights[m.spec.name]);
  }

  /** Writes the path's optimizer slots (in `gatherSlots` order) back. */
  scatterSlots(view: PathView, slots: readonly { m: Float32Array; s?: Float32Array }[]): void {
    const trainable = view.mappings.filter((m) => m.spec.trainable);
    trainable.forEach((m, i) => {
      this.scatter(m, 'm', slots[i].m);
      if (slots[i].s) this.scatter(m, 's', slots[i].s);
    });
  }

  private gather(m: ParamMapping, field: 'value' | 'm' | 's'): Float32Array {
    const src = this.field(m.entry, field);
    if (!m.indices) return src.slice();
    const out = new Float32Array(m.indices.length);
    const idx = m.indices;
    for (let i = 0; i < idx.length; i++) out[i] = src[idx[i]];
    return out;
  }

  private scatter(m: ParamMapping, field: 'value' | 'm' | 's', data: Float32Array): void {
    const dst = this.field(m.entry, field);
    if (!m.indices) {
      dst.set(data);
      return;
    }
    const idx = m.indices;
    for (let i = 0; i < idx.length; i++) dst[idx[i]] = data[i];
  }

  private field(entry: string, field: 'value' | 'm' | 's'): Float32Array {
    const e = this.entries.get(entry);
    const data = e?.[field];
    if (!data) throw new SupernetError(`internal: supernet entry "${entry}" has no ${field}`);
    return data;
  }

  /**
   * The bank's shape of a widest-path parameter: a stride-1 shuffle unit's branch convs span all C stream
   * channels (pw1 reads any of them, pw2 and its BN can write any of them).
   */
  private bankSpec(spec: ParamSpec): ParamSpec {
    const m = /^layers\.(\d+)\.branch\.(pw1\.weight|pw2\.weight|pw2\.bn\.\w+)$/.exec(spec.name);
    if (!m) return spec;
    const c = this.layers[Number(m[1])].cin;
    if (m[2] === 'pw1.weight') return { ...spec, shape: [spec.shape[0], c, 1, 1] };
    if (m[2] === 'pw2.weight') return { ...spec, shape: [c, spec.shape[1], 1, 1] };
    return { ...spec, shape: [c] };
  }

  private entryOf(name: string): BankEntry {
    const e = this.entries.get(name);
    if (!e) throw new SupernetError(`internal: no supernet entry ${name}`);
    return e;
  }

  /** The whole entry of the same name and size, in order. */
  private whole(spec: ParamSpec): ParamMapping {
    if (this.entryOf(spec.name).value.length !== paramSize(spec)) {
      throw new SupernetError(`internal: no supernet entry of the shape of ${spec.name}`);
    }
    return { spec, entry: spec.name };
  }

  /** A dense 1x1 conv [cout, cin] reading the stream: input column j is bank column basis(j). */
  private readsStream(spec: ParamSpec, entry: string, basis: Basis): ParamMapping {
    if (!basis) return this.whole(spec);
    const [cout, cin] = spec.shape;
    const indices = new Int32Array(cout * cin);
    for (let o = 0; o < cout; o++) for (let j = 0; j < cin; j++) indices[o * cin + j] = o * cin + basis[j];
    return { spec, entry, indices };
  }

  /** Index maps of one layer's parameters for one block, given the basis of its input stream. */
  private layerMappings(
    index: number,
    block: BlockType,
    basis: Basis,
    specs: readonly ParamSpec[],
  ): LayerMappings {
    const key = `${index}:${block}`;
    if (!basis) {
      const cached = this.mappingCache.get(key);
      if (cached) return cached;
    }
    const layer = this.layers[index];
    const family = BLOCKS[block].family;
    let result: LayerMappings;
    if (family === 'skip') result = { mappings: [], outBasis: basis };
    else if (family === 'ir') result = this.irMappings(layer, block, basis, specs);
    else if (isResidualLayer(layer)) result = this.shuffleUnitMappings(layer, basis, specs);
    else result = this.shuffleDownMappings(layer, basis, specs);
    if (!basis) this.mappingCache.set(key, result);
    return result;
  }

  private irMappings(
    layer: ResolvedLayer,
    block: BlockType,
    basis: Basis,
    specs: readonly ParamSpec[],
  ): LayerMappings {
    const { kernel, expansion, groups } = BLOCKS[block];
    const cin = layer.cin;
    const cout = layer.cout;
    const mid = expansion * cin;
    const bankMid = BLOCKS[WIDEST_IR].expansion * cin;
    const residual = isResidualLayer(layer);
    const inChannel = (j: number) => (basis ? basis[j] : j);
    // A residual block writes back into the stream's basis; otherwise the output is canonical.
    const outChannel = (o: number) => (residual && basis ? basis[o] : o);
    // Position q of the path's mid channels holds bank channel order[q] (the g2 shuffle permutes them).
    const order = (q: number) => (groups > 1 ? shuffleSource(q, mid) : q);
    const mappings = specs.map((p): ParamMapping => {
      const part = p.name.slice(`layers.${layer.index}.`.length);
      const indices = new Int32Array(paramSize(p));
      if (part === 'expand.weight') {
        // path [mid, cin/groups] ← bank [bankMid, cin]; group g reads stream channels g·cin/groups….
        const inPer = cin / groups;
        const outPer = mid / groups;
        for (let o = 0; o < mid; o++) {
          const g = Math.floor(o / outPer);
          for (let j = 0; j < inPer; j++) indices[o * inPer + j] = o * cin + inChannel(g * inPer + j);
        }
      } else if (part.startsWith('expand.bn.')) {
        for (let c = 0; c < mid; c++) indices[c] = c;
      } else if (part === 'dw.weight') {
        centreSlice(indices, mid, kernel, order);
      } else if (part.startsWith('dw.bn.')) {
        for (let q = 0; q < mid; q++) indices[q] = order(q);
      } else if (part === 'project.weight') {
        // path [cout, mid/groups] ← bank [cout, bankMid]; output group g reads path channels g·mid/groups….
        const inPer = mid / groups;
        const outPer = cout / groups;
        for (let o = 0; o < cout; o++) {
          const g = Math.floor(o / outPer);
          for (let j = 0; j < inPer; j++)
            indices[o * inPer + j] = outChannel(o) * bankMid + order(g * inPer + j);
        }
      } else if (part.startsWith('project.bn.')) {
        for (let o = 0; o < cout; o++) indices[o] = outChannel(o);
      } else {
        throw new SupernetError(`internal: unexpected ir parameter ${p.name}`);
      }
      return compact(p, p.name, indices, this.entryOf(p.name).value.length);
    });
    return { mappings, outBasis: residual ? basis : undefined };
  }

  /**
   * Stride-1 ShuffleNetV2 unit: stream channels 0..C/2−1 pass through, C/2..C−1 feed the branch, whose output
   * replaces those canonical channels; then the shuffle reorders the stream.
   */
  private shuffleUnitMappings(
    layer: ResolvedLayer,
    basis: Basis,
    specs: readonly ParamSpec[],
  ): LayerMappings {
    const c = layer.cin;
    const half = c / 2;
    const stream = (j: number) => (basis ? basis[j] : j);
    const mappings = specs.map((p): ParamMapping => {
      const part = p.name.slice(`layers.${layer.index}.`.length);
      const indices = new Int32Array(paramSize(p));
      if (part === 'branch.pw1.weight') {
        // path [half, half] ← bank [half, C]: column j reads stream channel half + j.
        for (let o = 0; o < half; o++)
          for (let j = 0; j < half; j++) indices[o * half + j] = o * c + stream(half + j);
      } else if (part === 'branch.pw2.weight') {
        // path [half, half] ← bank [C, half]: row r writes stream channel half + r.
        for (let r = 0; r < half; r++)
          for (let j = 0; j < half; j++) indices[r * half + j] = stream(half + r) * half + j;
      } else if (part.startsWith('branch.pw2.bn.')) {
        for (let r = 0; r < half; r++) indices[r] = stream(half + r);
      } else if (part === 'branch.dw.weight') {
        centreSlice(indices, half, p.shape[2], (q) => q);
      } else {
        return this.whole(p);
      }
      return compact(p, p.name, indices, this.entryOf(p.name).value.length);
    });
    const outBasis = new Int32Array(c);
    for (let q = 0; q < c; q++) outBasis[q] = stream(shuffleSource(q, c));
    return { mappings, outBasis };
  }

  /** Downsampling ShuffleNetV2 unit: the depthwise conv and the 1x1 convs read the stream in its basis. */
  private shuffleDownMappings(
    layer: ResolvedLayer,
    basis: Basis,
    specs: readonly ParamSpec[],
  ): LayerMappings {
    const mappings = specs.map((p): ParamMapping => {
      const part = p.name.slice(`layers.${layer.index}.`.length);
      const indices = new Int32Array(paramSize(p));
      if (part === 'left.dw.weight' || part === 'right.dw.weight') {
        const channels = p.shape[0];
        const reorder = part === 'left.dw.weight' && basis ? (q: number) => basis[q] : (q: number) => q;
        centreSlice(indices, channels, p.shape[2], reorder);
      } else if (part.startsWith('left.dw.bn.') && basis) {
        for (let q = 0; q < indices.length; q++) indices[q] = basis[q];
      } else if (part === 'left.pw.weight' || part === 'right.pw1.weight') {
        return this.readsStream(p, p.name, basis);
      } else {
        return this.whole(p);
      }
      return compact(p, p.name, indices, this.entryOf(p.name).value.length);
    });
    return { mappings, outBasis: undefined };
  }
}

/** Which canonical channel each stream channel of a path is; undefined = the canonical order itself. */
type Basis = Int32Array | undefined;

interface LayerMappings {
  readonly mappings: readonly ParamMapping[];
  /** The basis of the layer's output stream. */
  readonly outBasis: Basis;
}

/** indices = the centre k×k of 5×5 filters, path channel q ← bank channel channelOf(q). */
function centreSlice(
  indices: Int32Array,
  channels: number,
  k: number,
  channelOf: (q: number) => number,
): void {
  const off = (MAX_KERNEL - k) / 2;
  for (let q = 0; q < channels; q++) {
    const c = channelOf(q);
    for (let y = 0; y < k; y++) {
      for (let x = 0; x < k; x++)
        indices[(q * k + y) * k + x] = (c * MAX_KERNEL + y + off) * MAX_KERNEL + x + off;
    }
  }
}

/** Drops an index map that is the whole entry in order. */
function compact(spec: ParamSpec, entry: string, indices: Int32Array, entrySize: number): ParamMapping {
  if (indices.length === entrySize && indices.every((v, i) => v === i)) return { spec, entry };
  return { spec, entry, indices };
}
