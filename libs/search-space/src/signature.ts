import { BLOCKS, BlockType } from './blocks';
import { Architecture, ResolvedLayer, convOutputSize, layoutLayers } from './architecture';
import { MacroConfig } from './macro-configs';

/** What is priced in a latency lookup table: a searchable block, the stem, or the head. */
export type SignatureOp = Exclude<BlockType, 'skip'> | 'stem' | 'head';

/**
 * Everything that decides a block's cost on a device (the LUT key). Layers with equal signatures share one
 * LUT entry. `skip` has no signature: it is free by construction.
 */
export interface BlockSignature {
  readonly op: SignatureOp;
  readonly kernel: number;
  readonly expansion: number;
  readonly groups: number;
  readonly stride: number;
  readonly cin: number;
  readonly cout: number;
  /** Input feature map size. */
  readonly height: number;
  readonly width: number;
  readonly activation: 'relu';
  /** Head only: the classifier's output size (0 for every other op). */
  readonly classes: number;
}

/** Canonical, human-readable key: `ir_k5_e6:s2:c24-32:56x56:relu` (head adds `:n1000`). */
export function signatureKey(sig: BlockSignature): string {
  const parts = [
    opToken(sig),
    `s${sig.stride}`,
    `c${sig.cin}-${sig.cout}`,
    `${sig.height}x${sig.width}`,
    sig.activation,
  ];
  if (sig.op === 'head') parts.push(`n${sig.classes}`);
  return parts.join(':');
}

function opToken(sig: BlockSignature): string {
  if (sig.op === 'stem') return `stem_k${sig.kernel}`;
  if (sig.op === 'head') return 'head';
  return sig.op;
}

const KEY_RE =
  /^(stem_k(\d+)|head|(?:ir|shuffle)_k\d(?:_e\d)?(?:_g\d)?):s(\d+):c(\d+)-(\d+):(\d+)x(\d+):(relu)(?::n(\d+))?$/;

/** Inverse of `signatureKey`; throws with the reason on a malformed key. */
export function parseSignatureKey(key: string): BlockSignature {
  const m = KEY_RE.exec(key);
  if (!m) throw new Error(`malformed block signature key "${key}"`);
  const [, opTok, stemK, stride, cin, cout, h, w, activation, classes] = m;
  let op: SignatureOp;
  let kernel: number;
  let expansion = 1;
  let groups = 1;
  if (stemK) {
    op = 'stem';
    kernel = Number(stemK);
  } else if (opTok === 'head') {
    op = 'head';
    kernel = 1;
  } else {
    if (!(opTok in BLOCKS) || opTok === 'skip') throw new Error(`unknown block "${opTok}" in key "${key}"`);
    op = opTok as SignatureOp;
    const spec = BLOCKS[opTok as BlockType];
    kernel = spec.kernel;
    expansion = spec.expansion;
    groups = spec.groups;
  }
  if ((op === 'head') !== (classes !== undefined))
    throw new Error(`classes (":nN") belong to head keys only: "${key}"`);
  return {
    op,
    kernel,
    expansion,
    groups,
    stride: Number(stride),
    cin: Number(cin),
    cout: Number(cout),
    height: Number(h),
    width: Number(w),
    activation: activation as 'relu',
    classes: classes === undefined ? 0 : Number(classes),
  };
}

export function layerSignature(layer: ResolvedLayer): BlockSignature | undefined {
  if (layer.block === 'skip') return undefined;
  const spec = BLOCKS[layer.block];
  return {
    op: layer.block,
    kernel: spec.kernel,
    expansion: spec.expansion,
    groups: spec.groups,
    stride: layer.stride,
    cin: layer.cin,
    cout: layer.cout,
    height: layer.height,
    width: layer.width,
    activation: 'relu',
    classes: 0,
  };
}

export function stemSignature(config: MacroConfig): BlockSignature {
  return {
    op: 'stem',
    kernel: config.stem.kernel,
    expansion: 1,
    groups: 1,
    stride: config.stem.stride,
    cin: config.input.channels,
    cout: config.stem.channels,
    height: config.input.height,
    width: config.input.width,
    activation: 'relu',
    classes: 0,
  };
}

export function headSignature(config: MacroConfig): BlockSignature {
  const last = config.stages[config.stages.length - 1];
  let h = convOutputSize(config.input.height, config.stem.stride);
  let w = convOutputSize(config.input.width, config.stem.stride);
  for (const s of config.stages) {
    h = convOutputSize(h, s.firstStride);
    w = convOutputSize(w, s.firstStride);
  }
  return {
    op: 'head',
    kernel: 1,
    expansion: 1,
    groups: 1,
    stride: 1,
    cin: last.channels,
    cout: config.head.channels,
    height: h,
    width: w,
    activation: 'relu',
    classes: config.classes,
  };
}

/** Per-layer signatures of an architecture on a geometry (`undefined` for skip layers), plus stem and head. */
export interface ArchitectureSignatures {
  readonly stem: BlockSignature;
  readonly layers: readonly (BlockSignature | undefined)[];
  readonly head: BlockSignature;
}

export function architectureSignatures(arch: Architecture, config: MacroConfig): ArchitectureSignatures {
  return {
    stem: stemSignature(config),
    layers: layoutLayers(arch.blocks, config).map(layerSignature),
    head: headSignature(config),
  };
}

/** The distinct LUT keys an architecture needs (stem, blocks, head), in first-use order. */
export function distinctSignatures(arch: Architecture, config: MacroConfig): BlockSignature[] {
  const sigs = architectureSignatures(arch, config);
  const byKey = new Map<string, BlockSignature>();
  for (const sig of [sigs.stem, ...sigs.layers, sigs.head]) {
    if (sig && !byKey.has(signatureKey(sig))) byKey.set(signatureKey(sig), sig);
  }
  return [...byKey.values()];
}
