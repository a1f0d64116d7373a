import { Architecture, changesShape, layoutLayers } from './architecture';
import { ArchitectureError, ValidationIssue } from './architecture-error';
import { BLOCK_TYPES, BlockType, FBNET_BLOCK_TYPES } from './blocks';
import { FBNET_224, MacroConfig, PROXY_28 } from './macro-configs';
import {
  assertValidArchitecture,
  isValidArchitecture,
  validChoicesPerLayer,
  validateArchitecture,
} from './validate';
import { ODD_CONFIG } from './odd-config.fixture';

const ODD = ODD_CONFIG;

const allOf = (b: BlockType, n = 22): Architecture => ({ blocks: Array<BlockType>(n).fill(b) });
const rules = (issues: ValidationIssue[]) => issues.map((i) => `${i.layer}:${i.rule}`);

describe('validateArchitecture', () => {
  it('accepts valid architectures on both built-in geometries', () => {
    for (const b of BLOCK_TYPES.filter((t) => t !== 'skip')) {
      expect(validateArchitecture(allOf(b), FBNET_224)).toEqual([]);
      expect(validateArchitecture(allOf(b), PROXY_28)).toEqual([]);
    }
  });

  it('layer-count: too few or too many layers', () => {
    const [issue] = validateArchitecture(allOf('ir_k3_e1', 21), FBNET_224);
    expect(issue.rule).toBe('layer-count');
    expect(issue.message).toBe('architecture has 21 layers, fbnet-224 has 22');
    expect(rules(validateArchitecture(allOf('ir_k3_e1', 23), FBNET_224))).toEqual(['undefined:layer-count']);
  });

  it('unknown-block: a token outside the catalog', () => {
    const blocks = [...allOf('ir_k3_e1').blocks] as string[];
    blocks[7] = 'ir_k7_e6';
    const issues = validateArchitecture({ blocks: blocks as BlockType[] }, FBNET_224);
    expect(rules(issues)).toEqual(['7:unknown-block']);
    expect(issues[0].message).toMatch(/^layer 7 \(stage 2, #2\): unknown block "ir_k7_e6"; known blocks: /);
  });

  it('block-not-allowed: a block outside the caller-allowed set', () => {
    const arch = { blocks: [...allOf('ir_k3_e1').blocks.slice(0, 21), 'shuffle_k3' as const] };
    const issues = validateArchitecture(arch, FBNET_224, { blockTypes: FBNET_BLOCK_TYPES });
    expect(rules(issues)).toEqual(['21:block-not-allowed']);
    expect(issues[0].message).toMatch(/layer 21 \(stage 6, #0\): shuffle_k3 is not among the allowed blocks/);
  });

  it('skip-shape-change: skip at a stride-2 layer and where channels change', () => {
    // fbnet-224 layer 1: 16→24, stride 2; layer 13: 64→112, stride 1 (channels only); layer 0: 16→16, stride 1.
    const issues = validateArchitecture(allOf('skip'), FBNET_224);
    const shapeChanging = layoutLayers([], FBNET_224)
      .filter(changesShape)
      .map((l) => l.index);
    expect(shapeChanging).toEqual([1, 5, 9, 13, 17, 21]);
    expect(issues.map((i) => i.layer)).toEqual(shapeChanging);
    expect(issues.every((i) => i.rule === 'skip-shape-change')).toBe(true);
    expect(issues[0].message).toBe(
      'layer 1 (stage 1, #0): skip is not allowed where the shape changes (stride 2, channels 16→24)',
    );
    expect(issues[3].message).toBe(
      'layer 13 (stage 4, #0): skip is not allowed where the shape changes (channels 64→112)',
    );
    // On the proxy geometry stage 1 starts with stride 1 but still changes channels (8→12).
    expect(validateArchitecture(allOf('skip'), PROXY_28).map((i) => i.layer)).toEqual(shapeChanging);
  });

  it('group-divisibility: g2 blocks need channel counts divisible by 2', () => {
    // ODD: layer 0 7→7, layer 1 7→10 (s2), layer 2 10→10, layer 3 10→9.
    const issues = validateArchitecture(allOf('ir_k3_e1_g2', 4), ODD);
    expect(rules(issues)).toEqual(['0:group-divisibility', '1:group-divisibility', '3:group-divisibility']);
    expect(issues[0].message).toBe(
      'layer 0 (stage 0, #0): ir_k3_e1_g2 uses 2 groups, which must divide the input channels (7) and expanded channels (7) and output channels (7)',
    );
    expect(issues[2].message).toMatch(/must divide the output channels \(9\)$/);
  });

  it('shuffle-even-channels: shuffle units need an even output channel count', () => {
    const issues = validateArchitecture(allOf('shuffle_k5', 4), ODD);
    expect(rules(issues)).toEqual(['0:shuffle-even-channels', '3:shuffle-even-channels']);
    expect(issues[1].message).toBe(
      'layer 3 (stage 2, #0): shuffle_k5 splits its output into two halves, so output channels (9) must be even',
    );
  });

  it('config: a broken macro config is reported before the architecture', () => {
    const broken: MacroConfig = { ...ODD, stages: [{ channels: 0, repeats: 1, firstStride: 3 as 1 }] };
    const issues = validateArchitecture(allOf('ir_k3_e1', 1), broken);
    expect(issues.map((i) => i.rule)).toEqual(['config', 'config']);
    expect(issues[0].message).toMatch(/stages\[0\]\.channels must be a positive integer \(got 0\)/);
  });

  it('syntax: a value that is not an architecture', () => {
    expect(rules(validateArchitecture({} as Architecture, FBNET_224))).toEqual(['undefined:syntax']);
  });

  it('assertValidArchitecture throws an ArchitectureError with the first layer and rule, listing all', () => {
    expect(() => assertValidArchitecture(allOf('ir_k3_e6'), FBNET_224)).not.toThrow();
    try {
      assertValidArchitecture(allOf('skip'), FBNET_224);
      throw new Error('expected a throw');
    } catch (e) {
      expect(e).toBeInstanceOf(ArchitectureError);
      const err = e as ArchitectureError;
      expect(err.layer).toBe(1);
      expect(err.rule).toBe('skip-shape-change');
      expect(err.issues).toHaveLength(6);
      expect(err.message).toMatch(/and 5 more: layer 5/);
    }
    expect(isValidArchitecture(allOf('skip'), FBNET_224)).toBe(false);
  });
});

describe('validChoicesPerLayer', () => {
  it('lists exactly the blocks that validate at each layer', () => {
    for (const config of [FBNET_224, PROXY_28, ODD]) {
      const choices = validChoicesPerLayer(config);
      expect(choices).toHaveLength(layoutLayers([], config).length);
      // Each block tried at each layer, the other layers holding a valid block.
      const fits = choices.map((_, i) =>
        BLOCK_TYPES.filter((b) =>
          isValidArchitecture({ blocks: choices.map((c, l) => (l === i ? b : c[0])) }, config),
        ),
      );
      expect(choices).toEqual(fits);
    }
  });

  it('intersects over alsoValidFor and rejects configs with different layer counts', () => {
    const withOdd: MacroConfig = {
      ...ODD,
      name: 'even-first-stage',
      stem: { ...ODD.stem, channels: 8 },
      stages: [{ ...ODD.stages[0], channels: 8 }, ...ODD.stages.slice(1)],
    };
    const both = validChoicesPerLayer(withOdd, BLOCK_TYPES, [ODD]);
    expect(both[0]).not.toContain('shuffle_k3');
    expect(validChoicesPerLayer(withOdd)[0]).toContain('shuffle_k3');
    expect(() => validChoicesPerLayer(FBNET_224, BLOCK_TYPES, [ODD])).toThrow(/cannot share architectures/);
    expect(() => validChoicesPerLayer(ODD, ['ir_k3_e1_g2'])).toThrow(
      /layer 0 \(stage 0\): none of the allowed blocks \(ir_k3_e1_g2\) fits on test-odd/,
    );
  });
});
