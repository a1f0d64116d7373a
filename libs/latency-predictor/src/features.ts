import { BlockSignature, convOutputSize, signatureCost } from '@edgenas/search-space';

/**
 * Cost features of one LUT entry, used by the calibration and by estimates for missing entries: MACs and
 * params (`signatureCost` of @edgenas/search-space) and memory traffic: float32 bytes of activations read and
 * written by each op of the block as lowered (BN folded into the convs, so it moves nothing).
 */
export interface SignatureFeatures {
  readonly macs: number;
  /** Bytes of activations read and written by every op of the block (float32). */
  readonly activationBytes: number;
  readonly params: number;
}

const BYTES = 4;

interface Acc {
  elems: number;
}

/** 1x1 conv on an h×w map (grouping changes MACs, not the tensors moved). */
function pointwise(acc: Acc, h: number, w: number, cin: number, cout: number): void {
  acc.elems += h * w * (cin + cout);
}

/** Depthwise conv from an h×w map to ho×wo. */
function depthwise(acc: Acc, h: number, w: number, ho: number, wo: number, c: number): void {
  acc.elems += h * w * c + ho * wo * c;
}

export function signatureFeatures(sig: BlockSignature): SignatureFeatures {
  const { cin, cout, height: h, width: w, stride } = sig;
  const ho = convOutputSize(h, stride);
  const wo = convOutputSize(w, stride);
  const acc: Acc = { elems: 0 };
  if (sig.op === 'stem') {
    acc.elems += h * w * cin + ho * wo * cout;
  } else if (sig.op === 'head') {
    pointwise(acc, h, w, cin, cout);
    // global average pool, then the classifier
    acc.elems += h * w * cout + cout + cout + sig.classes;
  } else if (sig.op.startsWith('ir_')) {
    const mid = cin * sig.expansion;
    pointwise(acc, h, w, cin, mid);
    depthwise(acc, h, w, ho, wo, mid);
    pointwise(acc, ho, wo, mid, cout);
    if (stride === 1 && cin === cout) acc.elems += 3 * h * w * cin; // residual add
  } else {
    // ShuffleNetV2 unit
    if (stride === 1 && cin === cout) {
      const c = cin / 2;
      pointwise(acc, h, w, c, c);
      depthwise(acc, h, w, h, w, c);
      pointwise(acc, h, w, c, c);
      acc.elems += 2 * h * w * cin; // concat + shuffle
    } else {
      const half = cout / 2;
      depthwise(acc, h, w, ho, wo, cin);
      pointwise(acc, ho, wo, cin, half);
      pointwise(acc, h, w, cin, half);
      depthwise(acc, h, w, ho, wo, half);
      pointwise(acc, ho, wo, half, half);
      acc.elems += 2 * ho * wo * cout;
    }
  }
  const cost = signatureCost(sig);
  return { macs: cost.macs, activationBytes: acc.elems * BYTES, params: cost.params };
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
