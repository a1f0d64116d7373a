// Jest's node environment gives each test file its own realm, so typed arrays created by onnxruntime-node's
// native code (outer realm) fail onnxruntime-common's `instanceof Float32Array` checks. Sharing the outer
// realm's typed-array constructors with the test realm fixes that. Use it per spec file with the docblock
// `@jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js`.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class OrtTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OrtTestEnvironment;
