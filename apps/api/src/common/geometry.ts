import { InputShape, MacroConfig } from '@edgenas/search-space';
import { resolveGeometry } from '@edgenas/storage';
import { FieldError, badRequest } from './api-error';

/** Sane bounds for a deployment geometry (feature maps must not vanish; tensors must fit a device). */
export const GEOMETRY_LIMITS = {
  minSide: 8,
  maxSide: 2048,
  maxChannels: 16,
  maxClasses: 100_000,
} as const;

export function parseInputShape(text: string, field: string): InputShape {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text);
  if (!m) throw badRequest(field, `expected HxWxC, e.g. 224x224x3 (got "${text}")`);
  return { height: Number(m[1]), width: Number(m[2]), channels: Number(m[3]) };
}

export function geometryIssues(
  input: InputShape | undefined,
  classes: number | undefined,
  prefix = '',
): FieldError[] {
  const issues: FieldError[] = [];
  const L = GEOMETRY_LIMITS;
  if (input) {
    for (const side of ['height', 'width'] as const) {
      const v = input[side];
      if (!Number.isInteger(v) || v < L.minSide || v > L.maxSide)
        issues.push({
          field: `${prefix}input.${side}`,
          reason: `must be an integer in ${L.minSide}..${L.maxSide}`,
        });
    }
    if (!Number.isInteger(input.channels) || input.channels < 1 || input.channels > L.maxChannels)
      issues.push({ field: `${prefix}input.channels`, reason: `must be an integer in 1..${L.maxChannels}` });
  }
  if (classes !== undefined && (!Number.isInteger(classes) || classes < 2 || classes > L.maxClasses))
    issues.push({ field: `${prefix}classes`, reason: `must be an integer in 2..${L.maxClasses}` });
  return issues;
}

/** The deployment geometry for a space (+ optional input/classes); 400 naming the field when unknown or insane. */
export function deploymentGeometry(
  space: string,
  input: InputShape | undefined,
  classes: number | undefined,
  spaceField = 'space',
): MacroConfig {
  const issues = geometryIssues(input, classes);
  if (issues.length > 0) throw badRequest(issues[0].field, issues[0].reason);
  try {
    return resolveGeometry(space, { input, classes });
  } catch (err) {
    throw badRequest(spaceField, err instanceof Error ? err.message : String(err));
  }
}
