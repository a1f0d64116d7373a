import { MAX_BODY_DEPTH, pathDeeperThan, pathToNulString } from './validation';

describe('pathDeeperThan', () => {
  it('finds the path where a value nests deeper than the limit, without recursing', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { a: deep };
    const path = pathDeeperThan({ ok: { x: 1 }, bad: deep }, MAX_BODY_DEPTH);
    expect(path?.length).toBe(MAX_BODY_DEPTH);
    expect(path?.slice(0, 3)).toEqual(['bad', '0', 'a']);
  });

  it('passes values at the limit and scalars', () => {
    let atLimit: unknown = 'leaf';
    for (let i = 0; i < MAX_BODY_DEPTH; i++) atLimit = [atLimit];
    expect(pathDeeperThan(atLimit, MAX_BODY_DEPTH)).toBeUndefined();
    expect(pathDeeperThan([atLimit], MAX_BODY_DEPTH)).toEqual(['0', ...Array(MAX_BODY_DEPTH - 1).fill('0')]);
    expect(pathDeeperThan(null, MAX_BODY_DEPTH)).toBeUndefined();
    expect(pathDeeperThan('text', 0)).toBeUndefined();
  });
});

describe('pathToNulString', () => {
  it('finds the first string value or key holding a NUL character, and passes everything else', () => {
    expect(pathToNulString('id\u0000')).toEqual([]);
    expect(pathToNulString({ a: [1, 'ok', { b: 'x\u0000y' }] })).toEqual(['a', '2', 'b']);
    expect(pathToNulString({ ['k\u0000']: 1 })).toEqual(['k\u0000']);
    expect(pathToNulString({ a: 'ok', b: [null, 2, true] })).toBeUndefined();
    expect(pathToNulString(undefined)).toBeUndefined();
  });
});
