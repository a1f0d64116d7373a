import { architectureId } from './architecture-string';
import { BlockType, FBNET_BLOCK_TYPES } from './blocks';
import { countCost } from './cost';
import { FBNET_224, MacroConfig, PROXY_28 } from './macro-configs';
import { createRng } from './rng';
import { SamplingError, sampleArchitecture } from './sample';
import { isValidArchitecture, validChoicesPerLayer } from './validate';

const NARROW_28: MacroConfig = {
  ...PROXY_28,
  name: 'narrow-28',
  stages: PROXY_28.stages.map((s, i) => (i === 6 ? { ...s, channels: 95 } : s)),
};

describe('sampleArchitecture', () => {
  it('always gives valid architectures, deterministically per seed', () => {
    for (const config of [FBNET_224, PROXY_28]) {
      const rng = createRng(1);
      for (let i = 0; i < 300; i++)
        expect(isValidArchitecture(sampleArchitecture(config, rng), config)).toBe(true);
    }
    const a = createRng(5);
    const b = createRng(5);
    for (let i = 0; i < 20; i++)
      expect(sampleArchitecture(FBNET_224, a)).toEqual(sampleArchitecture(FBNET_224, b));
  });

  it('is uniform over the valid blocks of each layer', () => {
    const rng = createRng(2);
    const counts = new Map<BlockType, number>();
    const draws = 4000;
    for (let i = 0; i < draws; i++) {
      const b = sampleArchitecture(FBNET_224, rng).blocks[1]; // stride-2 layer: skip not allowed, 10 choices
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([...validChoicesPerLayer(FBNET_224)[1]].sort());
    for (const n of counts.values()) expect(Math.abs(n / draws - 0.1)).toBeLessThan(0.025);
  });

  it('respects the allowed blocks and the other geometries', () => {
    const rng = createRng(3);
    for (let i = 0; i < 100; i++) {
      const arch = sampleArchitecture(FBNET_224, rng, {
        blockTypes: FBNET_BLOCK_TYPES,
        alsoValidFor: [PROXY_28],
      });
      expect(arch.blocks.every((b) => FBNET_BLOCK_TYPES.includes(b))).toBe(true);
      expect(isValidArchitecture(arch, PROXY_28)).toBe(true);
    }
    // The last proxy stage has 95 channels here: shuffle units cannot sit there, on either geometry.
    for (let i = 0; i < 100; i++) {
      const arch = sampleArchitecture(PROXY_28, rng, {
        blockTypes: ['shuffle_k3', 'ir_k3_e3'],
        alsoValidFor: [NARROW_28],
      });
      expect(arch.blocks[21]).toBe('ir_k3_e3');
      expect(isValidArchitecture(arch, NARROW_28)).toBe(true);
    }
  });

  it('respects MAC and parameter limits, by rejection when loose', () => {
    const rng = createRng(4);
    const median = countCost({ blocks: Array<BlockType>(22).fill('ir_k3_e3') }, FBNET_224);
    for (let i = 0; i < 50; i++) {
      const arch = sampleArchitecture(FBNET_224, rng, { maxMacs: median.macs, maxParams: median.params });
      const c = countCost(arch, FBNET_224);
      expect(c.macs).toBeLessThanOrEqual(median.macs);
      expect(c.params).toBeLessThanOrEqual(median.params);
    }
  });

  it('meets tight limits through the constructive fallback, still valid and still varied', () => {
    const rng = createRng(6);
    const maxMacs = 90e6; // random fbnet-224 architectures average far more; few draws get below
    const maxParams = 2.9e6;
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const arch = sampleArchitecture(FBNET_224, rng, {
        maxMacs,
        maxParams,
        maxAttempts: 1,
        alsoValidFor: [PROXY_28],
      });
      const c = countCost(arch, FBNET_224);
      expect(isValidArchitecture(arch, FBNET_224) && isValidArchitecture(arch, PROXY_28)).toBe(true);
      expect(c.macs).toBeLessThanOrEqual(maxMacs);
      expect(c.params).toBeLessThanOrEqual(maxParams);
      ids.add(architectureId(arch));
    }
    expect(ids.size).toBeGreaterThan(20);
  });

  it('falls back to growing the cheapest architecture when downgrading alone gets stuck', () => {
    // One layer, 32→8 channels at stride 2 on 8×8: shuffle_k5 has fewer MACs but more params than ir_k3_e1_g2,
    // so a draw of ir_k3_e1_g2 cannot be downgraded in MACs without raising params.
    const oneLayer: MacroConfig = {
      name: 'one-layer',
      input: { height: 16, width: 16, channels: 1 },
      stem: { channels: 32, kernel: 3, stride: 2 },
      stages: [{ channels: 8, repeats: 1, firstStride: 2 }],
      head: { channels: 16 },
      classes: 2,
    };
    const blockTypes: BlockType[] = ['shuffle_k5', 'ir_k3_e1_g2'];
    const shuffle = countCost({ blocks: ['shuffle_k5'] }, oneLayer);
    const grouped = countCost({ blocks: ['ir_k3_e1_g2'] }, oneLayer);
    expect(shuffle.macs < grouped.macs && shuffle.params > grouped.params).toBe(true);
    for (let seed = 0; seed < 10; seed++) {
      const arch = sampleArchitecture(oneLayer, createRng(seed), {
        blockTypes,
        maxMacs: shuffle.macs,
        maxParams: 10 * shuffle.params,
        maxAttempts: 1,
      });
      expect(arch.blocks).toEqual(['shuffle_k5']);
    }
    // Each limit alone is reachable, both together are not.
    expect(() =>
      sampleArchitecture(oneLayer, createRng(1), {
        blockTypes,
        maxMacs: shuffle.macs,
        maxParams: grouped.params,
      }),
    ).toThrow(
      /no architecture on one-layer found within macs ≤ \d+ and params ≤ \d+ \(the cheapest found has/,
    );
  });

  it('fails with a clear error when no architecture can meet the limits', () => {
    const rng = createRng(7);
    expect(() => sampleArchitecture(FBNET_224, rng, { maxMacs: 1e6 })).toThrow(SamplingError);
    expect(() => sampleArchitecture(FBNET_224, rng, { maxMacs: 1e6 })).toThrow(
      /maxMacs 1000000 is below the smallest macs any architecture reaches on fbnet-224 \(\d+/,
    );
    expect(() => sampleArchitecture(FBNET_224, rng, { maxParams: 1e5 })).toThrow(/maxParams 100000 is below/);
    expect(() => sampleArchitecture(FBNET_224, rng, { maxMacs: -5 })).toThrow(
      /maxMacs must be a positive number/,
    );
    expect(() => sampleArchitecture(FBNET_224, rng, { maxMacs: 1e9, maxAttempts: 0 })).toThrow(/maxAttempts/);
  });
});
