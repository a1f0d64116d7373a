import { changesShape, layoutLayers } from './architecture';
import { BLOCK_TYPES, BlockType, FBNET_BLOCK_TYPES } from './blocks';
import { FBNET_224, PROXY_28 } from './macro-configs';
import { searchSpaceSize } from './space-size';
import { isValidArchitecture } from './validate';
import { ODD_CONFIG } from './odd-config.fixture';

const ODD = ODD_CONFIG;

describe('searchSpaceSize', () => {
  it('counts 11^(same-shape layers) · 10^(shape-changing layers) on the built-in geometries', () => {
    for (const config of [FBNET_224, PROXY_28]) {
      const layers = layoutLayers([], config);
      const changing = BigInt(layers.filter(changesShape).length);
      const same = BigInt(layers.length) - changing;
      const all = searchSpaceSize(config);
      expect(all.count).toBe(11n ** same * 10n ** changing);
      expect(all.log10).toBeCloseTo(Math.log10(Number(all.count)), 10);
      // FBNet's own nine blocks: 9 choices where skip fits, 8 where it does not.
      expect(searchSpaceSize(config, FBNET_BLOCK_TYPES).count).toBe(9n ** same * 8n ** changing);
    }
  });

  it('equals brute-force enumeration of valid architectures on a small config with odd channels', () => {
    const n = layoutLayers([], ODD).length;
    let valid = 0;
    const blocks: BlockType[] = Array(n).fill('skip');
    const visit = (i: number): void => {
      if (i === n) {
        if (isValidArchitecture({ blocks }, ODD)) valid++;
        return;
      }
      for (const b of BLOCK_TYPES) {
        blocks[i] = b;
        visit(i + 1);
      }
    };
    visit(0);
    expect(searchSpaceSize(ODD).count).toBe(BigInt(valid));
    expect(valid).toBeLessThan(11 ** n);
  });
});
