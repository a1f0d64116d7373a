// Pure and free of Node modules: the API, the worker's activities and workflow code may all import it.
export * from './measurement';
export * from './stats';
export * from './features';
export * from './lut';
export * from './calibration';
export * from './predict';
export * from './evaluation';
export * from './calibration-set';
export * from './device-predictor';
export * from './latency-range';
