import { BlockSignature, convOutputSize } from '@edgenas/search-space';

/**
 * Cost features of one LUT entry, used by the calibration and by estimates for missing entries: multiply-
 * accumulates and memory traffic (float32 bytes read and written by each op's activations, plus weights).
 * Counted from the block definitions in @edgenas/search-space blocks.ts; BN is folded, so it costs nothing.
 */
export interface SignatureFeatures {
  readonly macs: number;
  /** Bytes of activations read and written by every op of the block (float32). */
  readonly activationBytes: number;
  readonly params: number;
}

const BYTES = 4;

interface Acc {
  macs: number;
  elems: number;
  params: number;
}

/** 1x1 conv on an h×w map (grouped when g > 1). */
function pointwise(acc: Acc, h: number, w: number, cin: number, cout: number, g: number): void {
  acc.macs += (h * w * cin * cout) / g;
  acc.elems += h * w * (cin + cout);
  acc.params += (cin * cout) / g + cout;
}

/** Depthwise k×k conv from an h×w map to ho×wo. */
function depthwise(acc: Acc, h: number, w: number, ho: number, wo: number, c: number, k: number): void {
  acc.macs += ho * wo * c * k * k;
  acc.elems += h * w * c + ho * wo * c;
  acc.params += c * k * k + c;
}

export function signatureFeatures(sig: BlockSignature): SignatureFeatures {
  const { cin, cout, height: h, width: w, stride, kernel: k } = sig;
  const ho = convOutputSize(h, stride);
  const wo = convOutputSize(w, stride);
  const acc: Acc = { macs: 0, elems: 0, params: 0 };
  if (sig.op === 'stem') {
    acc.macs += ho * wo * cin * cout * k * k;
    acc.elems += h * w * cin + ho * wo * cout;
    acc.params += cin * cout * k * k + cout;
  } else if (sig.op === 'head') {
    pointwise(acc, h, w, cin, cout, 1);
    // global average pool, then the classifier
    acc.macs += h * w * cout + cout * sig.classes;
    acc.elems += h * w * cout + cout + cout + sig.classes;
    acc.params += cout * sig.classes + sig.classes;
  } else if (sig.op.startsWith('ir_')) {
    const mid = cin * sig.expansion;
    pointwise(acc, h, w, cin, mid, sig.groups);
    depthwise(acc, h, w, ho, wo, mid, k);
    pointwise(acc, ho, wo, mid, cout, sig.groups);
    if (stride === 1 && cin === cout) acc.elems += 3 * h * w * cin; // residual add
  } else {
    // ShuffleNetV2 unit
    if (stride === 1 && cin === cout) {
      const c = cin / 2;
      pointwise(acc, h, w, c, c, 1);
      depthwise(acc, h, w, h, w, c, k);
      pointwise(acc, h, w, c, c, 1);
      acc.elems += 2 * h * w * cin; // concat + shuffle
    } else {
      const half = cout / 2;
      depthwise(acc, h, w, ho, wo, cin, k);
      pointwise(acc, ho, wo, cin, half, 1);
      pointwise(acc, h, w, cin, half, 1);
      depthwise(acc, h, w, ho, wo, half, k);
      pointwise(acc, ho, wo, half, half, 1);
      acc.elems += 2 * ho * wo * cout;
    }
  }
  return { macs: acc.macs, activationBytes: acc.elems * BYTES, params: acc.params };
}

/** Op family used to borrow a ms-per-MAC rate when an entry is estimated. */
export function opFamily(sig: BlockSignature): string {
  if (sig.op === 'stem' || sig.op === 'head') return sig.op;
  return sig.op.startsWith('ir_') ? 'ir' : 'shuffle';
}

/**
 * Additive features of an architecture priced against a LUT: every one is a sum over stem, blocks and head
 * (plus the one network overhead), so a linear calibration on them stays additive per layer.
 */
export interface ArchitectureFeatures {
  /** Σ isolated-block estimates, per-run overhead included (the "raw LUT sum" baseline). */
  readonly lutSumMs: number;
  /** Σ (estimate − overhead) over stem, blocks and head, plus one network overhead. */
  readonly correctedSumMs: number;
  readonly networkOverheadMs: number;
  /** Non-skip searchable layers. */
  readonly blocks: number;
  readonly macs: number;
  readonly activationBytes: number;
}
