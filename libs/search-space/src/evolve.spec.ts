import { Architecture } from './architecture';
import { ArchitectureError } from './architecture-error';
import { BlockType, FBNET_BLOCK_TYPES } from './blocks';
import { crossoverArchitectures, mutateArchitecture } from './evolve';
import { FBNET_224, PROXY_28 } from './macro-configs';
import { createRng } from './rng';
import { sampleArchitecture } from './sample';
import { isValidArchitecture, stageStarts } from './validate';

const changed = (a: Architecture, b: Architecture) => a.blocks.filter((x, i) => x !== b.blocks[i]).length;

describe('mutateArchitecture', () => {
  it('changes at least one layer and stays valid on both geometries', () => {
    const rng = createRng(1);
    for (let i = 0; i < 300; i++) {
      const config = i % 2 ? FBNET_224 : PROXY_28;
      const parent = sampleArchitecture(config, rng);
      const child = mutateArchitecture(parent, config, rng);
      expect(changed(parent, child)).toBeGreaterThanOrEqual(1);
      expect(isValidArchitecture(child, config)).toBe(true);
    }
  });

  it('follows the rate: rate 1 redraws every layer, the default about one', () => {
    const rng = createRng(2);
    const parent = sampleArchitecture(FBNET_224, rng);
    expect(changed(parent, mutateArchitecture(parent, FBNET_224, rng, { rate: 1 }))).toBe(22);
    let total = 0;
    for (let i = 0; i < 500; i++) total += changed(parent, mutateArchitecture(parent, FBNET_224, rng));
    expect(total / 500).toBeGreaterThan(1);
    expect(total / 500).toBeLessThan(1.8);
    expect(() => mutateArchitecture(parent, FBNET_224, rng, { rate: 1.5 })).toThrow(/rate/);
  });

  it('draws changed layers from the allowed blocks and is deterministic', () => {
    const parent: Architecture = { blocks: Array<BlockType>(22).fill('ir_k3_e1') };
    const child = mutateArchitecture(parent, FBNET_224, createRng(3), {
      rate: 1,
      blockTypes: FBNET_BLOCK_TYPES,
    });
    expect(child.blocks.every((b) => FBNET_BLOCK_TYPES.includes(b) && b !== 'ir_k3_e1')).toBe(true);
    expect(
      mutateArchitecture(parent, FBNET_224, createRng(3), { rate: 1, blockTypes: FBNET_BLOCK_TYPES }),
    ).toEqual(child);
  });

  it('rejects an invalid parent, naming the layer and rule', () => {
    const bad: Architecture = { blocks: Array<BlockType>(22).fill('skip') };
    expect(() => mutateArchitecture(bad, FBNET_224, createRng(4))).toThrow(ArchitectureError);
    expect(() => mutateArchitecture(bad, FBNET_224, createRng(4))).toThrow(/layer 1 \(stage 1, #0\): skip/);
  });
});

describe('crossoverArchitectures', () => {
  it('uniform: every layer comes from one parent, both parents contribute, child valid', () => {
    const rng = createRng(5);
    for (let i = 0; i < 200; i++) {
      const config = i % 2 ? FBNET_224 : PROXY_28;
      const a = sampleArchitecture(config, rng);
      const b = sampleArchitecture(config, rng);
      const child = crossoverArchitectures(a, b, config, rng);
      expect(child.blocks.every((x, l) => x === a.blocks[l] || x === b.blocks[l])).toBe(true);
      expect(isValidArchitecture(child, config)).toBe(true);
    }
    const a: Architecture = { blocks: Array<BlockType>(22).fill('ir_k3_e1') };
    const b: Architecture = { blocks: Array<BlockType>(22).fill('ir_k5_e6') };
    const child = crossoverArchitectures(a, b, FBNET_224, createRng(6));
    expect(child.blocks).toContain('ir_k3_e1');
    expect(child.blocks).toContain('ir_k5_e6');
  });

  it('stage: each stage comes whole from one parent', () => {
    const a: Architecture = { blocks: Array<BlockType>(22).fill('ir_k3_e1') };
    const b: Architecture = { blocks: Array<BlockType>(22).fill('ir_k5_e6') };
    const starts = [...stageStarts(FBNET_224), 22];
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const child = crossoverArchitectures(a, b, FBNET_224, createRng(seed), { mode: 'stage' });
      for (let s = 0; s + 1 < starts.length; s++) {
        expect(new Set(child.blocks.slice(starts[s], starts[s + 1])).size).toBe(1);
      }
      seen.add(child.blocks.join());
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it('rejects parents that are invalid on the config', () => {
    const ok = sampleArchitecture(FBNET_224, createRng(7));
    expect(() => crossoverArchitectures(ok, { blocks: ok.blocks.slice(1) }, FBNET_224, createRng(7))).toThrow(
      /has 21 layers, fbnet-224 has 22/,
    );
  });
});
