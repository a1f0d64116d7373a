import { Architecture, layoutLayers } from './architecture';
import { ArchitectureError } from './architecture-error';
import { BLOCKS, BLOCK_TYPES, BlockType } from './blocks';
import { blockCost } from './cost';
import { MacroConfig } from './macro-configs';
import { validChoicesPerLayer } from './validate';

/** A hand-designed network laid on a space, trained and priced beside a search's front. */
export interface Baseline {
  readonly name: string;
  readonly architecture: Architecture;
}

/**
 * FBNet-B (Wu et al., CVPR 2019), one block per searchable layer of FBNet's stage layout [1, 4, 4, 4, 4, 4, 1],
 * as listed in FBNet's public model definitions (maskrcnn-benchmark `fbnet_modeldef.py`, "fbnet_b").
 */
export const FBNET_B_BLOCKS: readonly BlockType[] = [
  'ir_k3_e1',
  ...(['ir_k3_e6', 'ir_k5_e1', 'ir_k3_e1', 'ir_k3_e1'] as const),
  ...(['ir_k5_e6', 'ir_k5_e3', 'ir_k3_e6', 'ir_k5_e6'] as const),
  ...(['ir_k5_e6', 'ir_k5_e1', 'skip', 'ir_k5_e3'] as const),
  ...(['ir_k5_e6', 'ir_k3_e1', 'ir_k5_e1', 'ir_k5_e3'] as const),
  ...(['ir_k5_e6', 'ir_k5_e1', 'ir_k5_e6', 'ir_k5_e6'] as const),
  'ir_k3_e6',
];
const FBNET_STAGE_REPEATS = [1, 4, 4, 4, 4, 4, 1];

/**
 * The blocks to try, nearest first, when `block` does not fit a layer: a shuffle unit (which needs even output
 * channels, as do grouped blocks) becomes the plain e1 ir block of its kernel, a grouped block its ungrouped
 * twin, skip the cheapest plain block. `ir_k3_e1` fits any layer (no groups, any shape), so the chain never
 * runs dry.
 */
function nearestBlocks(block: BlockType): BlockType[] {
  const spec = BLOCKS[block];
  if (spec.family === 'shuffle') return [block, `ir_k${spec.kernel}_e1` as BlockType, 'ir_k3_e1'];
  if (spec.groups > 1) return [block, `ir_k${spec.kernel}_e${spec.expansion}` as BlockType, 'ir_k3_e1'];
  return [block, 'ir_k3_e1'];
}

function layBlocks(wanted: readonly BlockType[], choices: readonly BlockType[][]): Architecture {
  return {
    blocks: wanted.map((block, i) => {
      const fit = nearestBlocks(block).find((b) => choices[i].includes(b));
      if (!fit) {
        throw new ArchitectureError({
          layer: i,
          rule: 'block-not-allowed',
          message: `no block fits layer ${i}`,
        });
      }
      return fit;
    }),
  };
}

/**
 * Per layer, skip where it fits, else the ir block with the fewest MACs on `config` (then fewest params, then
 * block order). Layers' geometry does not depend on the blocks chosen, so per-layer minima are the whole
 * network's minimum among such nets. Shuffle units are not considered: this is the plain-ir floor of the space.
 */
function smallestArchitecture(config: MacroConfig, choices: readonly BlockType[][]): Architecture {
  const layers = layoutLayers([], config);
  return {
    blocks: choices.map((fits, i) => {
      if (fits.includes('skip')) return 'skip';
      const ir = BLOCK_TYPES.filter((b) => BLOCKS[b].family === 'ir' && fits.includes(b));
      const costs = ir.map((b) => ({ b, cost: blockCost(b, layers[i]) }));
      costs.sort((x, y) => x.cost.macs - y.cost.macs || x.cost.params - y.cost.params);
      return costs[0].b;
    }),
  };
}

/**
 * Hand-designed baselines laid on `config`, each valid there and on every config of `alsoValidFor` (the proxy
 * geometry the job trains on; it must have the same layer count):
 * - `mobilenetv2-like`: `ir_k3_e1` at the first layer, `ir_k3_e6` everywhere else (MobileNetV2's t=1 first
 *   bottleneck, then t=6; k3 throughout).
 * - `shufflenetv2-like`: `shuffle_k3` at every layer. A shuffle unit splits its output in halves and needs even
 *   output channels; where a config has odd output channels the layer gets `ir_k3_e1` (grouped blocks need even
 *   channels too).
 * - `fbnet-b`: `FBNET_B_BLOCKS`, only on configs with FBNet's stage layout [1, 4, 4, 4, 4, 4, 1] (left out
 *   otherwise). Its one `skip` (stage 3, layer 11) becomes `ir_k3_e1` where that layer changes shape.
 * - `smallest`: `skip` wherever the shape allows it, the ir block with the fewest MACs elsewhere.
 * On fbnet-224 and proxy-28 (every channel count even, layer 11 shape-preserving) nothing is substituted.
 */
export function baselineArchitectures(
  config: MacroConfig,
  alsoValidFor: readonly MacroConfig[] = [],
): Baseline[] {
  const choices = validChoicesPerLayer(config, BLOCK_TYPES, alsoValidFor);
  const n = choices.length;
  const baselines: Baseline[] = [
    {
      name: 'mobilenetv2-like',
      architecture: layBlocks(
        choices.map((_, i) => (i === 0 ? 'ir_k3_e1' : 'ir_k3_e6')),
        choices,
      ),
    },
    {
      name: 'shufflenetv2-like',
      architecture: layBlocks(new Array<BlockType>(n).fill('shuffle_k3'), choices),
    },
  ];
  const fbnetLayout = [config, ...alsoValidFor].every(
    (c) =>
      c.stages.length === FBNET_STAGE_REPEATS.length &&
      c.stages.every((s, i) => s.repeats === FBNET_STAGE_REPEATS[i]),
  );
  if (fbnetLayout) baselines.push({ name: 'fbnet-b', architecture: layBlocks(FBNET_B_BLOCKS, choices) });
  baselines.push({ name: 'smallest', architecture: smallestArchitecture(config, choices) });
  return baselines;
}
