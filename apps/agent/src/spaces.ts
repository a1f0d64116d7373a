import {
  GeometryError,
  GeometryOverride,
  InputShape,
  MacroConfig,
  parseClasses as parseClassesText,
  parseInputShape as parseInputShapeText,
  resolveSpace,
  splitSpaceList,
} from '@edgenas/search-space';

/** Runs a search-space geometry function, naming the CLI flag in place of the field on failure. */
function forFlag<T>(flag: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof GeometryError) {
      // `--input.height` → `--input: height must be …`
      const part = err.field.startsWith(`${flag}.`) ? `${err.field.slice(flag.length + 1)} ` : '';
      throw new Error(`${flag}: ${part}${err.reason}`);
    }
    throw err;
  }
}

/** Parses `HxWxC` (e.g. `224x224x3`) within the deployment-geometry limits; throws naming the flag. */
export function parseInputShape(text: string, flag = '--input'): InputShape {
  return forFlag(flag, () => parseInputShapeText(text, flag));
}

export function parseClasses(text: string, flag = '--classes'): number {
  return forFlag(flag, () => parseClassesText(text, flag));
}

/** `--space a,b` → configs, with an optional geometry applied to each. */
export function resolveSpaces(list: string, geometry: GeometryOverride = {}): MacroConfig[] {
  const names = splitSpaceList(list);
  if (names.length === 0) throw new Error('--space needs at least one space name (e.g. proxy-28,fbnet-224)');
  return names.map((n) => forFlag('--space', () => resolveSpace(n, geometry)));
}
