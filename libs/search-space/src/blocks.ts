/**
 * The candidate blocks of the search space (FBNet's nine plus two ShuffleNetV2 units).
 *
 * ir  = 1x1 conv to e·cin (present for e=1 too, as in FBNet) → BN → ReLU → depthwise k×k (stride) → BN → ReLU
 *       → 1x1 project → BN; residual add when stride 1 and cin = cout.
 * g2  = both 1x1 convs grouped (2 groups), with a channel shuffle after the first.
 * shuffle = ShuffleNetV2 unit: stride 1 and cin = cout → channel split, branch 1x1 → dw → 1x1, concat, shuffle;
 *           otherwise the two-branch (downsampling) unit: dw → 1x1 on one copy, 1x1 → dw → 1x1 on the other.
 * skip = identity, only where the shape does not change.
 */
export const BLOCK_TYPES = [
  'ir_k3_e1',
  'ir_k3_e1_g2',
  'ir_k3_e3',
  'ir_k3_e6',
  'ir_k5_e1',
  'ir_k5_e1_g2',
  'ir_k5_e3',
  'ir_k5_e6',
  'skip',
  'shuffle_k3',
  'shuffle_k5',
] as const;

export type BlockType = (typeof BLOCK_TYPES)[number];

/** FBNet's original nine candidates, for searches that want the paper's space exactly. */
export const FBNET_BLOCK_TYPES: readonly BlockType[] = BLOCK_TYPES.filter((b) => !b.startsWith('shuffle'));

export type BlockFamily = 'ir' | 'shuffle' | 'skip';

export interface BlockSpec {
  readonly type: BlockType;
  readonly family: BlockFamily;
  /** Depthwise kernel size (0 for skip). */
  readonly kernel: number;
  /** Expansion ratio of the first 1x1 conv (ir); 1 for shuffle units and skip. */
  readonly expansion: number;
  /** Groups of the 1x1 convs (2 for the g2 blocks). */
  readonly groups: number;
}

function spec(type: BlockType): BlockSpec {
  if (type === 'skip') return { type, family: 'skip', kernel: 0, expansion: 1, groups: 1 };
  const m = /^(ir|shuffle)_k(\d)(?:_e(\d))?(?:_g(\d))?$/.exec(type);
  if (!m) throw new Error(`unparseable block type ${type}`);
  return {
    type,
    family: m[1] as BlockFamily,
    kernel: Number(m[2]),
    expansion: m[3] ? Number(m[3]) : 1,
    groups: m[4] ? Number(m[4]) : 1,
  };
}

export const BLOCKS: Readonly<Record<BlockType, BlockSpec>> = Object.fromEntries(
  BLOCK_TYPES.map((t) => [t, spec(t)]),
) as Record<BlockType, BlockSpec>;

export function isBlockType(value: string): value is BlockType {
  return (BLOCK_TYPES as readonly string[]).includes(value);
}
