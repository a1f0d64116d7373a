import { Architecture } from './architecture';
import { ArchitectureError, ValidationIssue, describeLayer } from './architecture-error';
import { BLOCK_TYPES, BlockType, isBlockType } from './blocks';
import { MACRO_CONFIGS, MacroConfig, layerCount } from './macro-configs';
import { validateArchitecture } from './validate';

/**
 * Compact architecture strings: stages separated by '/', layers within a stage by '-', one block token per
 * layer, e.g. `ir_k3_e1/ir_k3_e6-ir_k5_e1-skip-skip/…`. The stage grouping is for reading only: the
 * architecture itself is the flat block list, so `parseArchitecture(formatArchitecture(a))` equals `a`.
 */
export const STAGE_SEPARATOR = '/';
export const LAYER_SEPARATOR = '-';

/** Stage lengths used to group the layers: a config's, an explicit list, or the first known config that fits. */
export type StageLayout = MacroConfig | readonly number[];

function stageLengths(layers: number, layout?: StageLayout): readonly number[] {
  if (layout !== undefined) {
    const lengths = Array.isArray(layout)
      ? (layout as readonly number[])
      : (layout as MacroConfig).stages.map((s) => s.repeats);
    const total = lengths.reduce((n, r) => n + r, 0);
    if (total !== layers) {
      throw new ArchitectureError({
        rule: 'layer-count',
        message: `architecture has ${layers} layers but the stage layout [${lengths.join(', ')}] has ${total}`,
      });
    }
    return lengths;
  }
  const known = Object.values(MACRO_CONFIGS).find((c) => layerCount(c) === layers);
  return known ? known.stages.map((s) => s.repeats) : [layers];
}

export function formatArchitecture(arch: Architecture, layout?: StageLayout): string {
  const lengths = stageLengths(arch.blocks.length, layout);
  const stages: string[] = [];
  let i = 0;
  for (const n of lengths) {
    stages.push(arch.blocks.slice(i, i + n).join(LAYER_SEPARATOR));
    i += n;
  }
  return stages.join(STAGE_SEPARATOR);
}

/**
 * Inverse of `formatArchitecture`. Whitespace around tokens is ignored. With a config, the stage grouping
 * (when the text has more than one stage) and the architecture's validity on that config are checked too.
 * Throws `ArchitectureError` naming the layer and the rule.
 */
export function parseArchitecture(text: string, config?: MacroConfig): Architecture {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ArchitectureError({ rule: 'syntax', message: 'empty architecture string' });
  }
  const stageTexts = text.trim().split(STAGE_SEPARATOR);
  const blocks: BlockType[] = [];
  const issues: ValidationIssue[] = [];
  let layer = 0;
  stageTexts.forEach((stageText, stage) => {
    stageText.split(LAYER_SEPARATOR).forEach((raw, position) => {
      const token = raw.trim();
      const where = describeLayer(layer, stage, position);
      if (token === '') {
        issues.push({ layer, stage, rule: 'syntax', message: `${where}: empty block token in "${text}"` });
      } else if (!isBlockType(token)) {
        const hint = closestBlockType(token);
        issues.push({
          layer,
          stage,
          rule: 'unknown-block',
          message: `${where}: unknown block "${token}"${hint ? ` (did you mean "${hint}"?)` : ''}; known blocks: ${BLOCK_TYPES.join(', ')}`,
        });
      } else {
        blocks.push(token);
      }
      layer++;
    });
  });
  if (issues.length > 0) throw new ArchitectureError(issues);
  const arch: Architecture = { blocks };
  if (config) {
    const expected = config.stages.map((s) => s.repeats);
    const got = stageTexts.map((s) => s.split(LAYER_SEPARATOR).length);
    if (stageTexts.length > 1 && got.join() !== expected.join()) {
      throw new ArchitectureError({
        rule: 'stage-layout',
        message: `stage layout [${got.join(', ')}] does not match ${config.name}'s [${expected.join(', ')}]`,
      });
    }
    const problems = validateArchitecture(arch, config);
    if (problems.length > 0) throw new ArchitectureError(problems);
  }
  return arch;
}

/** The layout-independent canonical form: all blocks joined by '-'. Equal architectures, equal strings. */
export function canonicalArchitectureString(arch: Architecture): string {
  return arch.blocks.join(LAYER_SEPARATOR);
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** 64-bit FNV-1a of an ASCII string, as 16 hex digits. */
export function fnv1a64Hex(text: string): string {
  let h = FNV64_OFFSET;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`fnv1a64Hex hashes ASCII only (char ${c} at ${i})`);
    h = ((h ^ BigInt(c)) * FNV64_PRIME) & MASK64;
  }
  return h.toString(16).padStart(16, '0');
}

/** Stable id: 'a' + 16 hex digits of FNV-1a-64 of the canonical string (independent of geometry). */
export function architectureId(arch: Architecture): string {
  return `a${fnv1a64Hex(canonicalArchitectureString(arch))}`;
}

function closestBlockType(token: string): BlockType | undefined {
  let best: BlockType | undefined;
  let bestDistance = Infinity;
  for (const b of BLOCK_TYPES) {
    const d = editDistance(token.toLowerCase(), b);
    if (d < bestDistance) {
      best = b;
      bestDistance = d;
    }
  }
  return bestDistance <= 3 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
