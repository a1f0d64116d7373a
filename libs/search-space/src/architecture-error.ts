/** The rules an architecture (or its string form) can break; `rule` on errors and validation issues. */
export type ArchitectureRule =
  | 'syntax'
  | 'unknown-block'
  | 'layer-count'
  | 'stage-layout'
  | 'block-not-allowed'
  | 'skip-shape-change'
  | 'group-divisibility'
  | 'shuffle-even-channels'
  | 'config';

/** A broken rule, with the 0-based layer it concerns (absent for whole-architecture rules). */
export interface ValidationIssue {
  readonly layer?: number;
  readonly stage?: number;
  readonly rule: ArchitectureRule;
  readonly message: string;
}

/** Thrown by parsing and by `assertValidArchitecture`; carries the first issue's layer and rule. */
export class ArchitectureError extends Error {
  readonly layer?: number;
  readonly rule: ArchitectureRule;
  readonly issues: readonly ValidationIssue[];

  constructor(issues: ValidationIssue | readonly ValidationIssue[]) {
    const list: readonly ValidationIssue[] = Array.isArray(issues) ? issues : [issues as ValidationIssue];
    if (list.length === 0) throw new Error('ArchitectureError needs at least one issue');
    const more =
      list.length > 1
        ? ` (and ${list.length - 1} more: ${list
            .slice(1)
            .map((i) => i.message)
            .join('; ')})`
        : '';
    super(`${list[0].message}${more}`);
    this.name = 'ArchitectureError';
    this.layer = list[0].layer;
    this.rule = list[0].rule;
    this.issues = list;
  }
}

/** "layer 5 (stage 2, #1)": how messages name a layer (0-based index, stage and position within it). */
export function describeLayer(layer: number, stage?: number, position?: number): string {
  if (stage === undefined) return `layer ${layer}`;
  return position === undefined
    ? `layer ${layer} (stage ${stage})`
    : `layer ${layer} (stage ${stage}, #${position})`;
}
