// The ONNX Runtime device benchmark: this machine's profile, interleaved timing, robust statistics, and
// LUT entries / whole networks measured chunk by chunk. Used by the device agent and the benches.
export * from './interleaved';
export * from './statistics';
export * from './models';
export * from './precision';
export * from './ort-session';
export * from './runner';
export * from './device-profile';
export * from './version';
