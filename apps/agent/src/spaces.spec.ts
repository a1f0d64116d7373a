import { FBNET_224, PROXY_28, resolveSpaceName as resolveSpace, withGeometry } from '@edgenas/search-space';
import { parseInputShape, resolveSpaces } from './spaces';

describe('space names', () => {
  it('resolves plain names and the canonical names of deployment geometries', () => {
    expect(resolveSpace('fbnet-224')).toBe(FBNET_224);
    const geo = withGeometry(PROXY_28, { input: { height: 32, width: 32, channels: 3 }, classes: 10 });
    expect(resolveSpace(geo.name)).toEqual(geo);
  });

  it('applies --input/--classes to every listed space', () => {
    const [a, b] = resolveSpaces('proxy-28, fbnet-224', { classes: 7 });
    expect(a.name).toBe('proxy-28@28x28x1-c7');
    expect(b.name).toBe('fbnet-224@224x224x3-c7');
  });

  it('names what is wrong', () => {
    expect(() => resolveSpace('resnet-50')).toThrow(/unknown macro config "resnet-50"/);
    expect(() => resolveSpace('proxy-28@32x32-c10')).toThrow(/geometry must look like/);
    expect(() => resolveSpace('proxy-28@0x28x1-c10')).toThrow(/sizes and classes must be at least 1/);
    expect(() => resolveSpace('proxy-28@28x28x1-c0')).toThrow(/sizes and classes must be at least 1/);
    expect(() => resolveSpaces(' , ')).toThrow(/--space needs at least one/);
    expect(() => parseInputShape('224x224')).toThrow(/--input must look like HxWxC/);
    expect(() => parseInputShape('0x224x3')).toThrow(/out of range/);
  });
});
