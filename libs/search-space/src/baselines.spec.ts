import { Architecture, changesShape, layoutLayers } from './architecture';
import { ArchitectureError } from './architecture-error';
import { formatArchitecture } from './architecture-string';
import { baselineArchitectures, FBNET_B_BLOCKS } from './baselines';
import { BlockType } from './blocks';
import { countCost } from './cost';
import { graphCost, lowerArchitecture } from './graph';
import { FBNET_224, MacroConfig, PROXY_28 } from './macro-configs';
import { ODD_CONFIG } from './odd-config.fixture';
import { createRng } from './rng';
import { sampleArchitecture } from './sample';
import { isValidArchitecture, validChoicesPerLayer } from './validate';

const byName = (config: MacroConfig, also: readonly MacroConfig[] = []) =>
  new Map(baselineArchitectures(config, also).map((b) => [b.name, b.architecture]));

const macs = (arch: Architecture, config: MacroConfig) => graphCost(lowerArchitecture(arch, config)).macs;

/** proxy-28 with odd channels in stage 1 (layers 1–4): shuffle units do not fit there. */
const ODD_PROXY: MacroConfig = {
  ...PROXY_28,
  name: 'proxy-28-odd-stage-1',
  stages: PROXY_28.stages.map((s, i) => (i === 1 ? { ...s, channels: 13 } : s)),
};

describe('baselineArchitectures', () => {
  it('lays the four baselines on fbnet-224, each valid there and on the proxy geometry', () => {
    const baselines = baselineArchitectures(FBNET_224, [PROXY_28]);
    expect(baselines.map((b) => b.name)).toEqual([
      'mobilenetv2-like',
      'shufflenetv2-like',
      'fbnet-b',
      'smallest',
    ]);
    for (const { architecture } of baselines) {
      expect(isValidArchitecture(architecture, FBNET_224)).toBe(true);
      expect(isValidArchitecture(architecture, PROXY_28)).toBe(true);
    }
  });

  it('mobilenetv2-like is ir_k3_e1 first and ir_k3_e6 throughout; shufflenetv2-like is shuffle_k3 throughout', () => {
    const b = byName(PROXY_28);
    expect(formatArchitecture(b.get('mobilenetv2-like')!, PROXY_28)).toBe(
      'ir_k3_e1/' + Array(5).fill('ir_k3_e6-ir_k3_e6-ir_k3_e6-ir_k3_e6').join('/') + '/ir_k3_e6',
    );
    expect(b.get('shufflenetv2-like')!.blocks).toEqual(Array(22).fill('shuffle_k3'));
  });

  it('fbnet-b is the published block list (skip at stage 3, #3)', () => {
    const fbnetB = byName(FBNET_224, [PROXY_28]).get('fbnet-b')!;
    expect(formatArchitecture(fbnetB, FBNET_224)).toBe(
      'ir_k3_e1/' +
        'ir_k3_e6-ir_k5_e1-ir_k3_e1-ir_k3_e1/' +
        'ir_k5_e6-ir_k5_e3-ir_k3_e6-ir_k5_e6/' +
        'ir_k5_e6-ir_k5_e1-skip-ir_k5_e3/' +
        'ir_k5_e6-ir_k3_e1-ir_k5_e1-ir_k5_e3/' +
        'ir_k5_e6-ir_k5_e1-ir_k5_e6-ir_k5_e6/' +
        'ir_k3_e6',
    );
    expect(fbnetB.blocks).toEqual(FBNET_B_BLOCKS);
  });

  it('smallest skips wherever the shape allows and elsewhere takes the ir block with the fewest MACs', () => {
    for (const config of [FBNET_224, PROXY_28]) {
      const smallest = byName(config).get('smallest')!;
      const layers = layoutLayers(smallest.blocks, config);
      const choices = validChoicesPerLayer(config);
      for (const layer of layers) {
        expect(layer.block === 'skip').toBe(!changesShape(layer));
        // No single valid ir swap makes the whole network (counted on its lowered graph) cheaper.
        for (const other of choices[layer.index].filter((b) => b.startsWith('ir_'))) {
          const swapped = smallest.blocks.map((b, i) => (i === layer.index ? other : b));
          expect(macs({ blocks: swapped }, config)).toBeGreaterThanOrEqual(macs(smallest, config));
        }
      }
      // Where a shape changes, grouped 1x1 convs undercut the plain e1 block.
      expect(smallest.blocks[1]).toBe('ir_k3_e1_g2');
    }
  });

  it('smallest has fewer MACs than the other baselines and than sampled architectures', () => {
    const b = byName(FBNET_224, [PROXY_28]);
    const floor = countCost(b.get('smallest')!, FBNET_224).macs;
    for (const name of ['mobilenetv2-like', 'shufflenetv2-like', 'fbnet-b']) {
      expect(countCost(b.get(name)!, FBNET_224).macs).toBeGreaterThan(floor);
    }
    const rng = createRng(5);
    for (let i = 0; i < 100; i++) {
      expect(countCost(sampleArchitecture(FBNET_224, rng), FBNET_224).macs).toBeGreaterThanOrEqual(floor);
    }
  });

  it('substitutes ir_k3_e1 for shuffle units where the proxy geometry has odd channels, and stays valid on both', () => {
    const b = byName(FBNET_224, [ODD_PROXY]);
    const shuffle = b.get('shufflenetv2-like')!;
    const expected: BlockType[] = Array(22).fill('shuffle_k3');
    for (let i = 1; i <= 4; i++) expected[i] = 'ir_k3_e1';
    expect(shuffle.blocks).toEqual(expected);
    for (const [name, architecture] of b) {
      expect({ name, valid: isValidArchitecture(architecture, FBNET_224) }).toEqual({ name, valid: true });
      expect({ name, valid: isValidArchitecture(architecture, ODD_PROXY) }).toEqual({ name, valid: true });
    }
    // The deployment geometry alone has even channels: nothing to substitute there.
    expect(byName(FBNET_224).get('shufflenetv2-like')!.blocks).toEqual(Array(22).fill('shuffle_k3'));
    // Grouped blocks need even channels too: the smallest net falls back to plain ones in stage 1.
    expect(b.get('smallest')!.blocks[1]).toBe('ir_k3_e1');
  });

  it('leaves fbnet-b out of a space without its stage layout', () => {
    const b = byName(ODD_CONFIG);
    expect([...b.keys()]).toEqual(['mobilenetv2-like', 'shufflenetv2-like', 'smallest']);
    // 7 and 9 output channels (layers 0 and 3) are odd: no shuffle unit there.
    expect(b.get('shufflenetv2-like')!.blocks).toEqual(['ir_k3_e1', 'shuffle_k3', 'shuffle_k3', 'ir_k3_e1']);
    expect(b.get('smallest')!.blocks).toEqual(['skip', 'ir_k3_e1', 'skip', 'ir_k3_e1']);
    for (const architecture of b.values()) expect(isValidArchitecture(architecture, ODD_CONFIG)).toBe(true);
  });

  it('refuses configs that cannot share architectures', () => {
    expect(() => baselineArchitectures(FBNET_224, [ODD_CONFIG])).toThrow(ArchitectureError);
  });
});
