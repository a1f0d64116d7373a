// Pure, framework-free and free of Node modules: Temporal workflow code imports this entry point.
// Builders (ONNX, tfjs) live behind their own entry points: '@edgenas/search-space/onnx', '.../tfjs'.
export * from './blocks';
export * from './macro-configs';
export * from './geometry';
export * from './architecture';
export * from './signature';
export * from './architecture-error';
export * from './architecture-string';
export * from './validate';
export * from './rng';
export * from './cost';
export * from './space-size';
export * from './sample';
export * from './evolve';
export * from './baselines';
