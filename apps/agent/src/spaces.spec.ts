import { parseClasses, parseInputShape, resolveSpaces } from './spaces';

describe('agent space flags', () => {
  it('applies --input/--classes to every listed space', () => {
    const [a, b] = resolveSpaces('proxy-28, fbnet-224', { classes: 7 });
    expect(a.name).toBe('proxy-28@28x28x1-c7');
    expect(b.name).toBe('fbnet-224@224x224x3-c7');
  });

  it('names the flag and what is wrong', () => {
    expect(() => resolveSpaces('resnet-50')).toThrow(/--space: unknown macro config "resnet-50"/);
    expect(() => resolveSpaces(' , ')).toThrow(/--space needs at least one/);
    expect(() => parseInputShape('224x224')).toThrow(/--input: expected HxWxC/);
    expect(() => parseInputShape('4x224x3')).toThrow(/--input: height must be an integer in 8\.\.2048/);
    expect(() => parseClasses('1')).toThrow(/--classes: must be an integer in 2\.\.100000/);
  });
});
