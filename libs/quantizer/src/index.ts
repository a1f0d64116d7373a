// INT8 post-training quantization of EdgeNAS's ONNX models (static QDQ, calibrated in ONNX Runtime) and
// top-1 evaluation of float and INT8 models in ONNX Runtime.
export * from './errors';
export * from './params';
export * from './observers';
export * from './qdq';
export * from './ort-runner';
export * from './evaluate';
export * from './quantize-model';
