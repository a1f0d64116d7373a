/**
 * Analytic MAC and parameter counts.
 *
 * Convention (as in the MobileNet/FBNet papers): MACs = multiply-accumulates of convolutions (dense, grouped,
 * depthwise) and of the fully connected classifier; BatchNorm, ReLU, residual adds, channel shuffle/split/
 * concat and pooling are not counted. A k×k conv with groups g from cin to cout producing an Ho×Wo map costs
 * Ho·Wo·cout·(cin/g)·k² MACs. Params = trainable parameters as a training framework counts them: conv weights
 * (convs have no bias), BatchNorm γ and β (2 per conv output channel; the moving statistics are not
 * trainable), classifier weight and bias. Folding BN into the convs for export turns γ, β into one bias per
 * channel, so an exported model holds `params − Σ conv output channels` weights.
 *
 * The block internals mirror `lowerArchitecture` (graph.ts); a test checks that both count the same.
 */
import { Architecture, ResolvedLayer, convOutputSize, layoutLayers } from './architecture';
import { BLOCKS, BlockType } from './blocks';
import { MacroConfig } from './macro-configs';
import { BlockSignature, headSignature, stemSignature } from './signature';
import { assertValidArchitecture } from './validate';

export interface Cost {
  readonly macs: number;
  readonly params: number;
}

export interface ArchitectureCost extends Cost {
  readonly stem: Cost;
  readonly head: Cost;
  /** One entry per searchable layer (zero for skip). */
  readonly layers: readonly Cost[];
}

export const ZERO_COST: Cost = { macs: 0, params: 0 };

const BN_PARAMS_PER_CHANNEL = 2;

/** k×k conv (groups) producing an outH×outW map, followed by BatchNorm. */
function conv(k: number, cin: number, cout: number, groups: number, outH: number, outW: number): Cost {
  const weights = cout * (cin / groups) * k * k;
  return { macs: weights * outH * outW, params: weights + BN_PARAMS_PER_CHANNEL * cout };
}

/** Depthwise k×k conv producing an outH×outW map, followed by BatchNorm. */
function depthwise(k: number, channels: number, outH: number, outW: number): Cost {
  return conv(k, channels, channels, channels, outH, outW);
}

function sum(costs: readonly Cost[]): Cost {
  return costs.reduce((a, c) => ({ macs: a.macs + c.macs, params: a.params + c.params }), ZERO_COST);
}

/** Geometry of a block placement: input channels and size, output channels, stride. */
export interface BlockGeometry {
  readonly cin: number;
  readonly cout: number;
  readonly stride: number;
  readonly height: number;
  readonly width: number;
}

/** Cost of one searchable block at a placement (does not check that the block fits; see validate.ts). */
export function blockCost(block: BlockType, g: BlockGeometry): Cost {
  const spec = BLOCKS[block];
  const { cin, cout, stride, height: h, width: w } = g;
  const oh = convOutputSize(h, stride);
  const ow = convOutputSize(w, stride);
  const k = spec.kernel;
  switch (spec.family) {
    case 'skip':
      return ZERO_COST;
    case 'ir': {
      // 1x1 expand (groups) → shuffle → k×k depthwise (stride) → 1x1 project (groups) [+ residual].
      const mid = spec.expansion * cin;
      return sum([
        conv(1, cin, mid, spec.groups, h, w),
        depthwise(k, mid, oh, ow),
        conv(1, mid, cout, spec.groups, oh, ow),
      ]);
    }
    case 'shuffle': {
      if (stride === 1 && cin === cout) {
        // Split in halves; one half passes, the other goes 1x1 → k×k dw → 1x1; concat; shuffle.
        const half = cin / 2;
        return sum([conv(1, half, half, 1, h, w), depthwise(k, half, h, w), conv(1, half, half, 1, h, w)]);
      }
      // Two branches on the full input, each producing cout/2: dw → 1x1, and 1x1 → dw → 1x1.
      const half = cout / 2;
      return sum([
        depthwise(k, cin, oh, ow),
        conv(1, cin, half, 1, oh, ow),
        conv(1, cin, half, 1, h, w),
        depthwise(k, half, oh, ow),
        conv(1, half, half, 1, oh, ow),
      ]);
    }
  }
}

/** Cost of one LUT entry: a block, the stem (k×k conv), or the head (1x1 conv, pool, classifier). */
export function signatureCost(sig: BlockSignature): Cost {
  if (sig.op === 'stem') {
    const oh = convOutputSize(sig.height, sig.stride);
    const ow = convOutputSize(sig.width, sig.stride);
    return conv(sig.kernel, sig.cin, sig.cout, 1, oh, ow);
  }
  if (sig.op === 'head') {
    const classifier: Cost = { macs: sig.cout * sig.classes, params: sig.cout * sig.classes + sig.classes };
    return sum([conv(1, sig.cin, sig.cout, 1, sig.height, sig.width), classifier]);
  }
  return blockCost(sig.op, sig);
}

/** Cost of a resolved layer (zero for skip). */
export function layerCost(layer: ResolvedLayer): Cost {
  return blockCost(layer.block, layer);
}

/** MACs and params of a whole network (stem, searchable layers, head and classifier) on `config`. */
export function countCost(arch: Architecture, config: MacroConfig): ArchitectureCost {
  assertValidArchitecture(arch, config);
  const stem = signatureCost(stemSignature(config));
  const head = signatureCost(headSignature(config));
  const layers = layoutLayers(arch.blocks, config).map(layerCost);
  const total = sum([stem, ...layers, head]);
  return { ...total, stem, head, layers };
}
