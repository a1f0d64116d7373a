import { InputShape, MacroConfig, resolveSpaceName, withGeometry } from '@edgenas/search-space';

/** Parses `HxWxC` (e.g. `224x224x3`); throws naming the flag and the reason. */
export function parseInputShape(text: string, flag = '--input'): InputShape {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`${flag} must look like HxWxC (e.g. 224x224x3), got "${text}"`);
  const [height, width, channels] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (height < 1 || width < 1 || channels < 1 || height > 4096 || width > 4096 || channels > 64) {
    throw new Error(`${flag} ${text} is out of range (1–4096 pixels, 1–64 channels)`);
  }
  return { height, width, channels };
}

export function parseClasses(text: string, flag = '--classes'): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new Error(`${flag} must be an integer in 1–100000, got "${text}"`);
  return n;
}

/** `--space a,b` → configs, with an optional geometry applied to each. */
export function resolveSpaces(
  list: string,
  geometry: { input?: InputShape; classes?: number } = {},
): MacroConfig[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error('--space needs at least one space name (e.g. proxy-28,fbnet-224)');
  return names.map((n) => {
    const config = resolveSpaceName(n);
    return geometry.input || geometry.classes ? withGeometry(config, geometry) : config;
  });
}
