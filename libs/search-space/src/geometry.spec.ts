import {
  FBNET_224,
  GeometryError,
  PROXY_28,
  baseSpaceName,
  geometryIssues,
  parseClasses,
  parseInputShape,
  resolveSpace,
  splitSpaceList,
  withGeometry,
} from './index';

function errorOf(fn: () => unknown): GeometryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GeometryError) return err;
    throw err;
  }
  throw new Error('expected a GeometryError');
}

describe('resolveSpace', () => {
  it('resolves config names, canonical geometry names and overrides to the same configs', () => {
    expect(resolveSpace('fbnet-224')).toBe(FBNET_224);
    expect(resolveSpace('proxy-28', { input: { height: 28, width: 28, channels: 1 }, classes: 10 })).toBe(
      PROXY_28,
    );
    const g = resolveSpace('fbnet-224', { input: { height: 96, width: 96, channels: 3 }, classes: 10 });
    expect(g.name).toBe('fbnet-224@96x96x3-c10');
    expect(resolveSpace(g.name)).toEqual(g);
    const geo = withGeometry(PROXY_28, { input: { height: 32, width: 32, channels: 3 }, classes: 10 });
    expect(resolveSpace(geo.name)).toEqual(geo);
  });

  it('names the field and the reason', () => {
    expect(errorOf(() => resolveSpace('resnet-50'))).toMatchObject({
      field: 'space',
      reason: expect.stringMatching(/unknown macro config "resnet-50"/),
    });
    expect(errorOf(() => resolveSpace('proxy-28@32x32-c10')).reason).toMatch(/geometry must look like/);
    expect(errorOf(() => resolveSpace('proxy-28@0x28x1-c10')).reason).toMatch(
      /input.height must be an integer/,
    );
    expect(errorOf(() => resolveSpace('proxy-28@28x28x1-c1')).reason).toMatch(/classes must be an integer/);
    expect(errorOf(() => resolveSpace('x', {}, 'jobs.0.space')).field).toBe('jobs.0.space');
    expect(errorOf(() => resolveSpace(' ')).reason).toMatch(
      /required: a space name \(known: fbnet-224, proxy-28\)/,
    );
    expect(
      errorOf(() => resolveSpace('proxy-28', { input: { height: 4096, width: 28, channels: 1 } })),
    ).toMatchObject({ field: 'input.height', reason: 'must be an integer in 8..2048' });
    expect(errorOf(() => resolveSpace('proxy-28', { classes: 1 })).field).toBe('classes');
  });
});

describe('geometry text', () => {
  it('parses HxWxC and class counts within the limits', () => {
    expect(parseInputShape(' 160x128x3 ')).toEqual({ height: 160, width: 128, channels: 3 });
    expect(parseClasses('10')).toBe(10);
    expect(errorOf(() => parseInputShape('224x224', 'q.input'))).toMatchObject({ field: 'q.input' });
    expect(errorOf(() => parseInputShape('224x224x17'))).toMatchObject({
      field: 'input.channels',
      reason: expect.stringMatching(/must be an integer in 1..16/),
    });
    expect(errorOf(() => parseInputShape('4x224x3', 'q.input')).field).toBe('q.input.height');
    expect(errorOf(() => parseClasses('')).field).toBe('classes');
    expect(errorOf(() => parseClasses('2.5')).reason).toMatch(/2..100000/);
  });

  it('lists every broken limit with a prefix', () => {
    expect(geometryIssues({ height: 7, width: 9000, channels: 0 }, 0, 'jobs.1.').map((i) => i.field)).toEqual(
      ['jobs.1.input.height', 'jobs.1.input.width', 'jobs.1.input.channels', 'jobs.1.classes'],
    );
  });

  it('splits space lists and names the base config', () => {
    expect(splitSpaceList(' proxy-28, ,fbnet-224@96x96x3-c10 ')).toEqual([
      'proxy-28',
      'fbnet-224@96x96x3-c10',
    ]);
    expect(baseSpaceName('fbnet-224@96x96x3-c10')).toBe('fbnet-224');
  });
});
