import { BLOCK_TYPES, BlockType } from './blocks';
import { MacroConfig } from './macro-configs';
import { validChoicesPerLayer } from './validate';

export interface SearchSpaceSize {
  /** Exact number of valid architectures. */
  readonly count: bigint;
  readonly log10: number;
  /** Number of valid blocks at each layer (the count is their product: all rules are per layer). */
  readonly choicesPerLayer: readonly number[];
}

/** Number of valid architectures on `config` using only `blockTypes` (default: all blocks). */
export function searchSpaceSize(
  config: MacroConfig,
  blockTypes: readonly BlockType[] = BLOCK_TYPES,
): SearchSpaceSize {
  const choicesPerLayer = validChoicesPerLayer(config, blockTypes).map((c) => c.length);
  return {
    count: choicesPerLayer.reduce((n, c) => n * BigInt(c), 1n),
    log10: choicesPerLayer.reduce((s, c) => s + Math.log10(c), 0),
    choicesPerLayer,
  };
}
