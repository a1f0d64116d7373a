import { Architecture, ResolvedLayer, changesShape, layoutLayers } from './architecture';
import { ArchitectureError, ValidationIssue, describeLayer } from './architecture-error';
import { BLOCKS, BLOCK_TYPES, BlockType, isBlockType } from './blocks';
import { MacroConfig, layerCount } from './macro-configs';

export interface ValidationOptions {
  /** Blocks the caller allows (e.g. a job restricted to FBNet's nine); default: all. */
  readonly blockTypes?: readonly BlockType[];
}

/** Where a block sits: enough geometry to decide whether it fits. */
export type LayerPosition = Pick<ResolvedLayer, 'index' | 'stage' | 'cin' | 'cout' | 'stride'>;

/**
 * Why `block` cannot sit at `position` (empty when it fits). All rules are local to one layer, so an
 * architecture is valid exactly when every layer's block fits its own position.
 */
export function blockFitIssues(block: BlockType, position: LayerPosition, where?: string): ValidationIssue[] {
  const { index: layer, stage, cin, cout, stride } = position;
  const at = where ?? describeLayer(layer, stage);
  const spec = BLOCKS[block];
  const issues: ValidationIssue[] = [];
  if (spec.family === 'skip' && changesShape(position)) {
    const why = [stride !== 1 ? `stride ${stride}` : '', cin !== cout ? `channels ${cin}→${cout}` : '']
      .filter(Boolean)
      .join(', ');
    issues.push({
      layer,
      stage,
      rule: 'skip-shape-change',
      message: `${at}: skip is not allowed where the shape changes (${why})`,
    });
  }
  if (spec.family === 'ir' && spec.groups > 1) {
    const g = spec.groups;
    const channels: [string, number][] = [
      ['input', cin],
      ['expanded', cin * spec.expansion],
      ['output', cout],
    ];
    const bad = channels.filter(([, c]) => c % g !== 0);
    if (bad.length > 0) {
      issues.push({
        layer,
        stage,
        rule: 'group-divisibility',
        message: `${at}: ${block} uses ${g} groups, which must divide the ${bad
          .map(([name, c]) => `${name} channels (${c})`)
          .join(' and ')}`,
      });
    }
  }
  if (spec.family === 'shuffle' && cout % 2 !== 0) {
    issues.push({
      layer,
      stage,
      rule: 'shuffle-even-channels',
      message: `${at}: ${block} splits its output into two halves, so output channels (${cout}) must be even`,
    });
  }
  return issues;
}

/** Whether a block fits a position (see `blockFitIssues`). */
export function blockFits(block: BlockType, position: LayerPosition): boolean {
  return blockFitIssues(block, position).length === 0;
}

/** Structural problems of a macro config itself (positive sizes, strides 1 or 2, odd stem kernel). */
export function validateMacroConfig(config: MacroConfig): ValidationIssue[] {
  const problems: string[] = [];
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) problems.push(`${name} must be a positive integer (got ${v})`);
  };
  positiveInt('input.height', config.input.height);
  positiveInt('input.width', config.input.width);
  positiveInt('input.channels', config.input.channels);
  positiveInt('stem.channels', config.stem.channels);
  positiveInt('head.channels', config.head.channels);
  positiveInt('classes', config.classes);
  if (!Number.isInteger(config.stem.kernel) || config.stem.kernel <= 0 || config.stem.kernel % 2 === 0) {
    problems.push(`stem.kernel must be a positive odd integer (got ${config.stem.kernel})`);
  }
  if (config.stem.stride !== 1 && config.stem.stride !== 2) problems.push(`stem.stride must be 1 or 2`);
  if (config.stages.length === 0) problems.push('at least one stage is needed');
  config.stages.forEach((s, i) => {
    positiveInt(`stages[${i}].channels`, s.channels);
    positiveInt(`stages[${i}].repeats`, s.repeats);
    if (s.firstStride !== 1 && s.firstStride !== 2) problems.push(`stages[${i}].firstStride must be 1 or 2`);
  });
  return problems.map((p) => ({ rule: 'config', message: `macro config ${config.name}: ${p}` }));
}

/** Every broken rule, in layer order; empty when the architecture is valid on `config`. */
export function validateArchitecture(
  arch: Architecture,
  config: MacroConfig,
  options: ValidationOptions = {},
): ValidationIssue[] {
  const configIssues = validateMacroConfig(config);
  if (configIssues.length > 0) return configIssues;
  const issues: ValidationIssue[] = [];
  const blocks = arch?.blocks;
  if (!Array.isArray(blocks)) {
    return [{ rule: 'syntax', message: 'an architecture needs a "blocks" list' }];
  }
  const expected = layerCount(config);
  if (blocks.length !== expected) {
    issues.push({
      rule: 'layer-count',
      message: `architecture has ${blocks.length} layers, ${config.name} has ${expected}`,
    });
  }
  const allowed = options.blockTypes ? new Set<string>(options.blockTypes) : undefined;
  const layers = layoutLayers(blocks.slice(0, expected) as BlockType[], config);
  const stageStart = stageStarts(config);
  for (const layer of layers.slice(0, blocks.length)) {
    const block: unknown = layer.block;
    const where = describeLayer(layer.index, layer.stage, layer.index - stageStart[layer.stage]);
    if (typeof block !== 'string' || !isBlockType(block)) {
      issues.push({
        layer: layer.index,
        stage: layer.stage,
        rule: 'unknown-block',
        message: `${where}: unknown block ${JSON.stringify(block)}; known blocks: ${BLOCK_TYPES.join(', ')}`,
      });
      continue;
    }
    if (allowed && !allowed.has(block)) {
      issues.push({
        layer: layer.index,
        stage: layer.stage,
        rule: 'block-not-allowed',
        message: `${where}: ${block} is not among the allowed blocks (${[...allowed].join(', ')})`,
      });
    }
    issues.push(...blockFitIssues(block, layer, where));
  }
  return issues;
}

/** Throws `ArchitectureError` (first issue's layer and rule; message lists them all) unless valid. */
export function assertValidArchitecture(
  arch: Architecture,
  config: MacroConfig,
  options: ValidationOptions = {},
): void {
  const issues = validateArchitecture(arch, config, options);
  if (issues.length > 0) throw new ArchitectureError(issues);
}

export function isValidArchitecture(
  arch: Architecture,
  config: MacroConfig,
  options: ValidationOptions = {},
): boolean {
  return validateArchitecture(arch, config, options).length === 0;
}

/** Index of each stage's first layer. */
export function stageStarts(config: MacroConfig): number[] {
  const starts: number[] = [];
  let i = 0;
  for (const s of config.stages) {
    starts.push(i);
    i += s.repeats;
  }
  return starts;
}

/**
 * The blocks that fit each layer of `config` (and of every config in `alsoValidFor`, which must have the same
 * layer count), restricted to `blockTypes`. Throws when a layer has no valid choice.
 */
export function validChoicesPerLayer(
  config: MacroConfig,
  blockTypes: readonly BlockType[] = BLOCK_TYPES,
  alsoValidFor: readonly MacroConfig[] = [],
): BlockType[][] {
  const configs = [config, ...alsoValidFor];
  for (const c of configs) {
    const issues = validateMacroConfig(c);
    if (issues.length > 0) throw new ArchitectureError(issues);
  }
  const n = layerCount(config);
  for (const other of alsoValidFor) {
    if (layerCount(other) !== n) {
      throw new ArchitectureError({
        rule: 'layer-count',
        message: `${other.name} has ${layerCount(other)} layers, ${config.name} has ${n}: they cannot share architectures`,
      });
    }
  }
  const unknown = blockTypes.filter((b) => !isBlockType(b));
  if (unknown.length > 0) {
    throw new ArchitectureError({
      rule: 'unknown-block',
      message: `unknown block types: ${unknown.join(', ')}`,
    });
  }
  const layouts = configs.map((c) => layoutLayers([], c));
  return layouts[0].map((layer, i) => {
    const choices = [...new Set(blockTypes)].filter((b) => layouts.every((l) => blockFits(b, l[i])));
    if (choices.length === 0) {
      throw new ArchitectureError({
        layer: i,
        stage: layer.stage,
        rule: 'block-not-allowed',
        message: `${describeLayer(i, layer.stage)}: none of the allowed blocks (${blockTypes.join(', ')}) fits on ${configs
          .map((c) => c.name)
          .join(' and ')}`,
      });
    }
    return choices;
  });
}
