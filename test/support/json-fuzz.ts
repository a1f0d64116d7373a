/**
 * fast-check arbitraries for HTTP inputs: near-valid mutations of a valid JSON body, arbitrary JSON and
 * non-JSON text, odd path segments and odd query strings.
 */
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Keys that reach Object.prototype when an object is built by assignment. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** An object holding `key` as an own property, as JSON.parse makes it (assignment would set the prototype). */
function withOwnKey(key: string, value: Json): Json {
  const o: Record<string, Json> = {};
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  return o;
}

function deeplyNested(depth: number, kind: 'array' | 'object'): Json {
  let value: Json = 1;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}

/** Values that break assumptions: wrong types, edge numbers, path tricks, huge and unicode strings, deep nesting. */
export const junkValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -1,
    0.5,
    1.5,
    -1e-9,
    1e308,
    -1e308,
    2 ** 31,
    2 ** 53 + 2,
    '',
    ' ',
    '0',
    '1',
    'true',
    'null',
    'NaN',
    '1e400',
    '../../etc/passwd',
    '/etc/passwd',
    '%2F..%2F',
    '\u0000',
    '\uD800',
    '\u202Ebidi',
    'Ω≈ç√∫˜µ≤≥÷',
    '🙂'.repeat(40),
    '<script>alert(1)</script>',
    "' OR 1=1 --",
    [],
    [null],
    [{}],
    {},
  ),
  fc.integer(),
  fc.double(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 1_000, max: 300_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 5_000 }).map((n) => 'é🙂'.repeat(n)),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc
    .tuple(fc.integer({ min: 20, max: 3_000 }), fc.constantFrom<'array' | 'object'>('array', 'object'))
    .map(([depth, kind]) => deeplyNested(depth, kind)),
  fc
    .tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>)
    .map(([key, value]) =>
      withOwnKey(key, { polluted: true, prototype: { polluted: true }, value: value as Json }),
    ),
);

type Segment = string | number;

/** Places an edit can go (not inside junk nested deeper than a request body's own fields). */
function paths(value: Json, prefix: Segment[] = []): Segment[][] {
  if (value === null || typeof value !== 'object' || prefix.length >= 6) return [prefix];
  const keys: Segment[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((k) => paths((value as Record<string, Json>)[k], [...prefix, k]))];
}

const OPS = ['replace', 'delete', 'wrap', 'stringify', 'addKey', 'number', 'duplicate'] as const;
type Op = (typeof OPS)[number];

interface Edit {
  readonly at: number;
  readonly op: Op;
  readonly value: Json;
  readonly key: string;
  readonly factor: number;
}

const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom(...OPS),
  value: junkValue,
  key: fc.oneof(
    fc.constantFrom(...PROTOTYPE_KEYS, 'toString', 'hasOwnProperty', 'unknown', ''),
    fc.string({ maxLength: 12 }),
  ),
  factor: fc.constantFrom(-1, 0, 0.5, 1.000001, 2, 1e6, 1e300),
});

function setOwn(parent: Record<Segment, Json>, key: Segment, value: Json): void {
  Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
}

/** One edit at one place of `body` (a fresh copy). */
function applyEdit(body: Json, e: Edit): Json {
  const copy = JSON.parse(JSON.stringify(body)) as Json;
  const all = paths(copy);
  const path = all[e.at % all.length];
  if (path.length === 0) {
    if (e.op === 'addKey' && copy !== null && typeof copy === 'object' && !Array.isArray(copy)) {
      setOwn(copy, e.key, e.value);
      return copy;
    }
    return e.op === 'wrap' ? [copy] : e.value;
  }
  let parent = copy as Record<Segment, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<Segment, Json>;
  const key = path[path.length - 1];
  const current = parent[key];
  switch (e.op) {
    case 'replace':
      setOwn(parent, key, e.value);
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      break;
    case 'wrap':
      setOwn(parent, key, [current]);
      break;
    case 'stringify':
      setOwn(parent, key, JSON.stringify(current) ?? null);
      break;
    case 'addKey':
      if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
        setOwn(current as Record<Segment, Json>, e.key, e.value);
      } else if (!Array.isArray(parent)) setOwn(parent, e.key, e.value);
      break;
    case 'number':
      setOwn(
        parent,
        key,
        typeof current === 'number' ? current * e.factor + (e.factor === 1 ? 0 : 0.5) : e.value,
      );
      break;
    case 'duplicate':
      if (Array.isArray(current) && current.length > 0) setOwn(parent, key, [...current, current[0]]);
      else setOwn(parent, key, e.value);
      break;
  }
  return copy;
}

/** JSON text of `valid` after one to three edits (replace, delete, wrap, stringify, add a key, scale a number). */
export function nearValidJson(valid: Json): fc.Arbitrary<string> {
  return fc
    .array(edit, { minLength: 1, maxLength: 3 })
    .map((edits) => JSON.stringify(edits.reduce(applyEdit, valid)) ?? 'null');
}

/** Any JSON text, or text that is not JSON at all (truncated, binary, empty). */
export const anyJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.dictionary(fc.string({ maxLength: 8 }), junkValue, { maxKeys: 5 }).map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '',
    '{',
    '[',
    '{"a":',
    'nul',
    '{"__proto__":{"polluted":true}}',
    '{"a":1,"a":2}',
    '\uFEFF{}',
  ),
);

/** A body for a route: mostly near-valid, sometimes anything. */
export function jsonBody(valid: Json): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: nearValidJson(valid) }, { weight: 1, arbitrary: anyJsonText });
}

/** Percent-encoded text that is not valid UTF-8, or not valid percent-encoding. */
const BROKEN_ENCODINGS = ['%', '%Z', '%ZZ', '%ED%A0%80', '%C0%AF', '%FF', '%E0%80'];

/**
 * One path segment, already encoded for the URL: mostly `valid[0]` or another valid value (so requests reach past
 * the lookups), else odd text, encoded slashes and dots, long, unicode, broken encodings.
 */
export function oddSegment(valid: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(valid[0]) },
    { weight: 2, arbitrary: fc.constantFrom(...valid) },
    fc.constantFrom(
      '%2F',
      'a%2Fb',
      '..%2F..%2Fetc%2Fpasswd',
      '%2E%2E',
      '%2e',
      '%00',
      '%20',
      '+',
      '~',
      '%25',
      '%5C..%5C',
      'null',
      'undefined',
      '__proto__',
      'constructor',
      'toString',
      '0',
      '-1',
      '1e400',
      ...BROKEN_ENCODINGS,
    ),
    fc.integer({ min: 200, max: 20_000 }).map((n) => 'a'.repeat(n)),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeURIComponent),
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,200}$/),
    fc
      .tuple(fc.constantFrom(...valid), fc.constantFrom(...BROKEN_ENCODINGS, '%2F', '%00', '.onnx'))
      .map(([v, tail]) => `${v}${tail}`),
  );
}

/** A query string (with its leading "?", or empty): the valid parameters, each kept, dropped or made odd, plus strays. */
export function oddQuery(valid: Readonly<Record<string, string>>): fc.Arbitrary<string> {
  const value = fc.oneof(
    fc.constantFrom(
      '',
      ' ',
      '0',
      '-1',
      '1.5',
      '1e400',
      'NaN',
      '0x10',
      'true',
      '28x28',
      '0x0x0',
      '99999x99999x3',
    ),
    fc.constantFrom(...Object.values(valid), 'proxy-28'),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.integer({ min: 1_000, max: 20_000 }).map((n) => 'z'.repeat(n)),
  );
  const encoded = (s: string) => fc.constantFrom(encodeURIComponent(s));
  const pair = (key: string) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant([`${encodeURIComponent(key)}=${encodeURIComponent(valid[key])}`]) },
      { weight: 1, arbitrary: fc.constant([] as string[]) },
      { weight: 2, arbitrary: value.map((v) => [`${encodeURIComponent(key)}=${encodeURIComponent(v)}`]) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(value, value)
          .map(([a, b]) => [`${key}=${encodeURIComponent(a)}`, `${key}=${encodeURIComponent(b)}`]),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          [`${key}[]=x`],
          [`${key}[a]=1`],
          [`${key}`],
          [`${key}=${BROKEN_ENCODINGS[3]}`],
        ),
      },
    );
  const stray = fc.oneof(
    fc.constantFrom(
      '__proto__[polluted]=1',
      'constructor[prototype][polluted]=1',
      '__proto__=x',
      '=',
      '&&',
      'a=%',
    ),
    fc
      .tuple(fc.string({ minLength: 1, maxLength: 10 }), value)
      .chain(([k, v]) => encoded(k).map((ek) => `${ek}=${encodeURIComponent(v)}`)),
  );
  return fc
    .tuple(
      fc.tuple(...Object.keys(valid).map(pair)),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant([] as string[]) },
        { weight: 1, arbitrary: fc.array(stray, { minLength: 1, maxLength: 2 }) },
      ),
    )
    .map(([pairs, strays]) => {
      const parts = [...pairs.flat(), ...strays];
      return parts.length === 0 ? '' : `?${parts.join('&')}`;
    });
}
