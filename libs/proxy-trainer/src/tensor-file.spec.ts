import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  TensorFileError,
  readTensorFile,
  readWeightsFile,
  writeTensorFile,
  writeWeightsFile,
} from './tensor-file';

describe('tensor files', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-tensors-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips named arrays and their header, in order', () => {
    const file = path.join(dir, 'a.tensors');
    const a = Float32Array.from([1.5, -2, 3]);
    // A view into a larger buffer is written as its own values only.
    const b = new Float32Array([9, 9, 7, 8, 9]).subarray(2, 4);
    const { bytes } = writeTensorFile(file, { kind: 'test', step: 3 }, [
      ['a', a],
      ['b', b],
    ]);
    expect(fs.statSync(file).size).toBe(bytes);
    const read = readTensorFile(file);
    expect(read.meta).toEqual({ kind: 'test', step: 3 });
    expect([...read.arrays.keys()]).toEqual(['a', 'b']);
    expect([...(read.arrays.get('a') as Float32Array)]).toEqual([1.5, -2, 3]);
    expect([...(read.arrays.get('b') as Float32Array)]).toEqual([7, 8]);
  });

  it('refuses a damaged, truncated, missing or foreign file, naming it', () => {
    const file = path.join(dir, 'b.tensors');
    writeTensorFile(file, {}, [['x', Float32Array.from([1, 2, 3, 4])]]);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 2] ^= 0xff;
    fs.writeFileSync(file, bytes);
    expect(() => readTensorFile(file)).toThrow(/b\.tensors is corrupt/);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 4));
    expect(() => readTensorFile(file)).toThrow(TensorFileError);
    expect(() => readTensorFile(path.join(dir, 'none'))).toThrow(/none cannot be read/);
    fs.writeFileSync(file, 'hello');
    expect(() => readTensorFile(file)).toThrow(/not a tensor file/);
  });

  it('keeps network weights apart from other tensor files', () => {
    const file = path.join(dir, 'w.weights');
    writeWeightsFile(file, { 'conv.weight': Float32Array.from([0.25]) }, { architecture: 'a' });
    expect(readWeightsFile(file)).toEqual({ 'conv.weight': Float32Array.from([0.25]) });
    const other = path.join(dir, 'o.tensors');
    writeTensorFile(other, { kind: 'checkpoint' }, []);
    expect(() => readWeightsFile(other)).toThrow(/holds no network weights/);
  });
});
