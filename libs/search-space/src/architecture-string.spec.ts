import { Architecture } from './architecture';
import { ArchitectureError } from './architecture-error';
import {
  architectureId,
  canonicalArchitectureString,
  fnv1a64Hex,
  formatArchitecture,
  parseArchitecture,
} from './architecture-string';
import { BLOCK_TYPES, BlockType } from './blocks';
import { FBNET_224, PROXY_28 } from './macro-configs';
import { createRng } from './rng';

function randomBlocks(seed: number, n: number): BlockType[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.pick(BLOCK_TYPES));
}

function thrown(f: () => unknown): ArchitectureError {
  try {
    f();
  } catch (e) {
    if (e instanceof ArchitectureError) return e;
    throw e;
  }
  throw new Error('expected an ArchitectureError');
}

describe('architecture strings', () => {
  it('formats stages with "/" and layers with "-"', () => {
    const blocks: BlockType[] = [
      'skip',
      ...(['ir_k3_e6', 'ir_k5_e1', 'skip', 'skip'] as const),
      ...Array<BlockType>(16).fill('ir_k3_e1'),
      'shuffle_k5',
    ];
    const text = formatArchitecture({ blocks });
    expect(text.split('/')).toHaveLength(7);
    expect(text.startsWith('skip/ir_k3_e6-ir_k5_e1-skip-skip/ir_k3_e1-')).toBe(true);
    expect(text.endsWith('/shuffle_k5')).toBe(true);
    expect(formatArchitecture({ blocks: ['ir_k3_e1', 'skip', 'skip'] }, [1, 2])).toBe('ir_k3_e1/skip-skip');
    expect(formatArchitecture({ blocks: ['ir_k3_e1', 'skip'] })).toBe('ir_k3_e1-skip');
  });

  it('round-trips random architectures exactly (both directions)', () => {
    for (let seed = 0; seed < 200; seed++) {
      const arch: Architecture = { blocks: randomBlocks(seed, 22) };
      const text = formatArchitecture(arch, seed % 2 ? FBNET_224 : PROXY_28);
      const parsed = parseArchitecture(text);
      expect(parsed).toEqual(arch);
      expect(formatArchitecture(parsed)).toBe(text);
      expect(architectureId(parsed)).toBe(architectureId(arch));
    }
  });

  it('ignores whitespace around tokens', () => {
    expect(parseArchitecture(' ir_k3_e1 / skip - ir_k5_e6 ')).toEqual({
      blocks: ['ir_k3_e1', 'skip', 'ir_k5_e6'],
    });
  });

  it('names the layer, stage and rule of an unknown token, with a suggestion', () => {
    const e = thrown(() => parseArchitecture('skip/ir_k3_e6-ir_k7_e6-skip'));
    expect(e.rule).toBe('unknown-block');
    expect(e.layer).toBe(2);
    expect(e.message).toMatch(
      /layer 2 \(stage 1, #1\): unknown block "ir_k7_e6" \(did you mean "ir_k\d_e6"\?\)/,
    );
    const upper = thrown(() => parseArchitecture('IR_K3_E1'));
    expect(upper.message).toMatch(/did you mean "ir_k3_e1"/);
    expect(thrown(() => parseArchitecture('conv3x3')).message).toMatch(
      /unknown block "conv3x3"; known blocks: ir_k3_e1/,
    );
  });

  it('rejects empty strings and empty tokens as syntax errors', () => {
    expect(thrown(() => parseArchitecture('')).rule).toBe('syntax');
    expect(thrown(() => parseArchitecture('   ')).rule).toBe('syntax');
    const e = thrown(() => parseArchitecture('skip--skip'));
    expect(e.rule).toBe('syntax');
    expect(e.layer).toBe(1);
    expect(thrown(() => parseArchitecture('skip/')).rule).toBe('syntax');
  });

  it('checks stage layout and validity when given a config', () => {
    const valid = formatArchitecture({ blocks: Array<BlockType>(22).fill('ir_k3_e1') });
    expect(parseArchitecture(valid, FBNET_224).blocks).toHaveLength(22);
    const regrouped = valid.replace('/', '-');
    const layout = thrown(() => parseArchitecture(regrouped, FBNET_224));
    expect(layout.rule).toBe('stage-layout');
    expect(layout.message).toMatch(/\[5, 4, 4, 4, 4, 1\] does not match fbnet-224's \[1, 4, 4, 4, 4, 4, 1\]/);
    const short = thrown(() => parseArchitecture('ir_k3_e1-ir_k3_e1', FBNET_224));
    expect(short.rule).toBe('layer-count');
    const skipAtStride2 = valid.replace('ir_k3_e1/ir_k3_e1', 'ir_k3_e1/skip');
    const e = thrown(() => parseArchitecture(skipAtStride2, FBNET_224));
    expect(e.rule).toBe('skip-shape-change');
    expect(e.layer).toBe(1);
  });

  it('refuses a layout whose size differs from the architecture', () => {
    expect(() => formatArchitecture({ blocks: ['skip'] }, FBNET_224)).toThrow(ArchitectureError);
  });
});

describe('architectureId', () => {
  it('is FNV-1a 64 of the canonical string (published test vectors)', () => {
    // Test vectors from the FNV reference (Fowler/Noll/Vo): "" and "a" and "foobar".
    expect(fnv1a64Hex('')).toBe('cbf29ce484222325');
    expect(fnv1a64Hex('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64Hex('foobar')).toBe('85944171f73967e8');
  });

  it('is stable, geometry-independent and distinguishes architectures', () => {
    const arch: Architecture = { blocks: randomBlocks(1, 22) };
    expect(architectureId(arch)).toMatch(/^a[0-9a-f]{16}$/);
    expect(architectureId(arch)).toBe(`a${fnv1a64Hex(canonicalArchitectureString(arch))}`);
    expect(architectureId(parseArchitecture(formatArchitecture(arch, FBNET_224)))).toBe(architectureId(arch));
    const ids = new Set(
      Array.from({ length: 500 }, (_, s) => architectureId({ blocks: randomBlocks(s + 1000, 22) })),
    );
    expect(ids.size).toBe(500);
  });
});
