/**
 * The deployment geometry: the one parser, the one set of limits and the one resolution of a space name to
 * a macro config. API, agent, worker and storage all go through here, so a geometry one accepts is one the
 * others accept.
 */
import { InputShape, MACRO_CONFIGS, MacroConfig, getMacroConfig, withGeometry } from './macro-configs';

/** Sane bounds for a deployment geometry (feature maps must not vanish; tensors must fit a device). */
export const GEOMETRY_LIMITS = {
  minSide: 8,
  maxSide: 2048,
  minChannels: 1,
  maxChannels: 16,
  minClasses: 2,
  maxClasses: 100_000,
} as const;

/** What a geometry override may set; both optional (the space's own otherwise). */
export interface GeometryOverride {
  readonly input?: InputShape;
  readonly classes?: number;
}

/** One problem with a geometry, naming the field (`input.height`, `classes`, `space`) and the reason. */
export interface GeometryIssue {
  readonly field: string;
  readonly reason: string;
}

/** A geometry that cannot be used; `field` names what is wrong (callers prefix it with their own path). */
export class GeometryError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'GeometryError';
  }
}

const INPUT_SHAPE = /^(\d+)x(\d+)x(\d+)$/;
const GEOMETRY_SUFFIX = /^(\d+)x(\d+)x(\d+)-c(\d+)$/;

/** `HxWxC` (e.g. `224x224x3`) → shape, within the limits; throws a `GeometryError` on `field`. */
export function parseInputShape(text: string, field = 'input'): InputShape {
  const m = INPUT_SHAPE.exec(text.trim());
  if (!m) throw new GeometryError(field, `expected HxWxC, e.g. 224x224x3 (got "${text}")`);
  const input = { height: Number(m[1]), width: Number(m[2]), channels: Number(m[3]) };
  const issue = geometryIssues(input, undefined)[0];
  // names the side: `input.height`, or `--input.height` for a flag
  if (issue)
    throw new GeometryError(
      `${field}${issue.field.slice('input'.length)}`,
      `${issue.reason} (got "${text}")`,
    );
  return input;
}

/** A class count given as text; throws a `GeometryError` on `field`. */
export function parseClasses(text: string, field = 'classes'): number {
  const classes = text.trim() === '' ? NaN : Number(text);
  const issue = geometryIssues(undefined, classes)[0];
  if (issue) throw new GeometryError(field, `${issue.reason} (got "${text}")`);
  return classes;
}

/** Every limit a geometry override breaks; fields are `${prefix}input.height`, `${prefix}classes`, … */
export function geometryIssues(
  input: InputShape | undefined,
  classes: number | undefined,
  prefix = '',
): GeometryIssue[] {
  const L = GEOMETRY_LIMITS;
  const issues: GeometryIssue[] = [];
  const check = (field: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max)
      issues.push({ field: `${prefix}${field}`, reason: `must be an integer in ${min}..${max}` });
  };
  if (input) {
    check('input.height', input.height, L.minSide, L.maxSide);
    check('input.width', input.width, L.minSide, L.maxSide);
    check('input.channels', input.channels, L.minChannels, L.maxChannels);
  }
  if (classes !== undefined) check('classes', classes, L.minClasses, L.maxClasses);
  return issues;
}

/**
 * The config a space stands for: a macro config name (`proxy-28`) or a geometry name as `withGeometry`
 * writes it (`fbnet-224@160x160x3-c10`), then re-shaped by `override`. Throws a `GeometryError` naming the
 * field (`space`, `input.height`, `classes`, …) and the reason.
 */
export function resolveSpace(
  space: string,
  override: GeometryOverride = {},
  spaceField = 'space',
): MacroConfig {
  throwFirst(geometryIssues(override.input, override.classes));
  // callers hand in unvalidated query values too
  if (typeof space !== 'string' || space.trim() === '') {
    throw new GeometryError(
      spaceField,
      `required: a space name (known: ${Object.keys(MACRO_CONFIGS).join(', ')})`,
    );
  }
  const at = space.indexOf('@');
  let config: MacroConfig;
  try {
    config = getMacroConfig((at < 0 ? space : space.slice(0, at)).trim());
  } catch (err) {
    throw new GeometryError(spaceField, (err as Error).message);
  }
  if (at >= 0) {
    const m = GEOMETRY_SUFFIX.exec(space.slice(at + 1).trim());
    if (!m)
      throw new GeometryError(spaceField, `space "${space}": geometry must look like <config>@HxWxC-cN`);
    const [height, width, channels, classes] = m.slice(1, 5).map(Number);
    const issue = geometryIssues({ height, width, channels }, classes)[0];
    if (issue) throw new GeometryError(spaceField, `space "${space}": ${issue.field} ${issue.reason}`);
    config = withGeometry(config, { input: { height, width, channels }, classes });
  }
  return withGeometry(config, override);
}

/** The macro config name under a space name (`fbnet-224@160x160x3-c10` → `fbnet-224`). */
export function baseSpaceName(space: string): string {
  const at = space.indexOf('@');
  return (at < 0 ? space : space.slice(0, at)).trim();
}

/** A comma-separated list of space names (`proxy-28, fbnet-224`), empty entries dropped. */
export function splitSpaceList(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function throwFirst(issues: readonly GeometryIssue[]): void {
  if (issues.length > 0) throw new GeometryError(issues[0].field, issues[0].reason);
}
