import { FinalTrainingInput } from '@edgenas/contracts';
import type { QuantizationReport } from '@edgenas/quantizer';
import { ModelCardInput, TrainedFinalModel, buildModelCard, withMeasuredLatency } from './model-card';

const INPUT: FinalTrainingInput = {
  finalModelId: 'f1',
  jobId: 'j1',
  architectureId: 'a1',
  architecture: 'arch',
  deployment: {
    space: 'fbnet-224',
    input: { height: 96, width: 96, channels: 3 },
    classes: 10,
    deviceIds: ['d1'],
  },
  geometry: {
    at: 'proxy',
    space: 'proxy-28',
    resolution: 28,
    dataset: { kind: 'fashion-mnist', trainSize: 8000, valSize: 2000 },
    reason: 'Fashion-MNIST holds 28×28 grayscale images',
  },
  spec: {
    epochs: 10,
    batchSize: 64,
    augmentation: { crop: true, flip: false },
    seed: 1,
    calibrationImages: 256,
    precisions: ['float32', 'int8'],
  },
};

const REPORT: QuantizationReport = {
  calibrationImages: 192,
  heldOutImages: 64,
  percentile: 99.99,
  weightQuantMax: 64,
  chosenBy: 'held-out output error',
  candidates: [
    { method: 'minmax', relativeError: 0.01, sqnrDb: 20, maxAbsError: 0.1, top1Agreement: 0.98 },
    { method: 'percentile', relativeError: 0.02, sqnrDb: 17, maxAbsError: 0.2, top1Agreement: 0.97 },
  ],
  floatBytes: 400,
  int8Bytes: 100,
  sizeRatio: 4,
  quantizedNodes: { Conv: 20, Gemm: 1 },
  activationTensors: 30,
};

const TRAINED: TrainedFinalModel = {
  steps: 1250,
  epochs: 10,
  valAccuracy: 0.8,
  backend: 'tensorflow',
  wallTimeMs: 1000,
  resumedFromStep: 0,
  geometry: 'proxy-28@28x28x1-c10',
  macs: 2e6,
  params: 1e5,
};

function card(overrides: Partial<ModelCardInput> = {}) {
  return buildModelCard({
    input: INPUT,
    trained: TRAINED,
    dataset: {
      kind: 'fashion-mnist',
      name: 'fashion-mnist',
      trainImages: 8000,
      valImages: 2000,
      classes: 10,
    },
    inputShape: { height: 28, width: 28, channels: 1 },
    float: { onnx: new Uint8Array(400), top1: 0.8, images: 2000 },
    int8: {
      onnx: new Uint8Array(100),
      top1: 0.79,
      method: 'minmax',
      report: REPORT,
      scheme: 'static QDQ INT8',
    },
    predictedLatencyMs: { d1: 1.5 },
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  });
}

describe('buildModelCard', () => {
  it('records sizes, accuracies, the drop in points, the kept method and the proxy geometry', () => {
    const c = card();
    expect(c.files.float.bytes).toBe(400);
    expect(c.files.int8?.bytes).toBe(100);
    expect(c.files.float.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(c.accuracy).toMatchObject({ float: 0.8, int8: 0.79, evaluatedImages: 2000 });
    expect(c.accuracy.int8DropPoints).toBeCloseTo(1, 9);
    expect(c.quantization).toMatchObject({ method: 'minmax', calibrationImages: 192, sizeRatio: 4 });
    expect(c.geometry).toMatchObject({
      trainedAt: 'proxy',
      trained: 'proxy-28@28x28x1-c10',
      deployment: 'fbnet-224@96x96x3-c10',
    });
    // Within 2 points: no INT8 warning; the proxy geometry is said.
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatch(
      /^the files are at the proxy geometry \(proxy-28@28x28x1-c10\), not at the deployment/,
    );
    expect(c.distillation).toBeNull();
  });

  it('warns, never silently, when INT8 loses more than 2 points, the export disagrees with the trainer, or the teacher is weaker', () => {
    const c = card({
      int8: { onnx: new Uint8Array(100), top1: 0.775, method: 'percentile', report: REPORT, scheme: 's' },
      trained: { ...TRAINED, valAccuracy: 0.7 },
      teacher: {
        architectureId: 't1',
        architecture: 't',
        source: 'best-finalist',
        trained: 'trained with the same budget',
        accuracy: 0.75,
        logitsFile: 'teachers/k/train.logits',
      },
      input: {
        ...INPUT,
        spec: {
          ...INPUT.spec,
          distillation: {
            teacherArchitectureId: 't1',
            teacherArchitecture: 't',
            teacherSource: 'best-finalist',
            temperature: 4,
            weight: 0.5,
          },
        },
      },
    });
    expect(c.accuracy.int8DropPoints).toBeCloseTo(2.5, 9);
    expect(c.warnings).toEqual(
      expect.arrayContaining([
        'INT8 top-1 is 2.5 points below float (77.5 % vs 80.0 % on 2000 validation images), more than 2: check ' +
          'the INT8 file on your data before deploying it, or deploy the float file',
        'the trainer measured 70.0 % before export, ONNX Runtime 80.0 % on the float file: the export does not ' +
          'reproduce the trained network exactly',
        'the teacher (75.0 %) is less accurate than the distilled student (80.0 %)',
      ]),
    );
    expect(c.distillation).toMatchObject({
      teacherArchitectureId: 't1',
      teacherAccuracy: 0.75,
      temperature: 4,
      weight: 0.5,
    });
  });

  it('without INT8 the card has no INT8 file, accuracy or quantization; a missing latency is a warning', () => {
    const c = card({
      int8: undefined,
      predictedLatencyMs: {},
      latencyWarning: 'latency could not be predicted: x',
    });
    expect(c.files.int8).toBeNull();
    expect(c.accuracy.int8).toBeNull();
    expect(c.accuracy.int8DropPoints).toBeNull();
    expect(c.quantization).toBeNull();
    expect(c.warnings).toContain('latency could not be predicted: x');
  });
});

describe('withMeasuredLatency', () => {
  it('records float and INT8 latency per device at the files geometry and keeps every other field', () => {
    const before = card();
    const c = withMeasuredLatency(before, { float: { d1: 2.5 }, int8: { d1: 1.75 }, notMeasured: [] });
    expect(c.measuredLatencyMs).toEqual({
      float: { d1: 2.5 },
      int8: { d1: 1.75 },
      geometry: 'proxy-28@28x28x1-c10',
      notMeasured: [],
    });
    const { measuredLatencyMs: _m, warnings, ...rest } = c;
    const { warnings: warningsBefore, ...restBefore } = before;
    expect(rest).toEqual(restBefore);
    // Measured at the proxy geometry, predicted at the deployment one: said.
    expect(warnings).toEqual([
      ...warningsBefore,
      'the measured latencies are of the files at proxy-28@28x28x1-c10, the predicted ones of the deployment ' +
        'network at fbnet-224@96x96x3-c10: they differ by geometry, not only by error',
    ]);
  });

  it('a device that did not measure a file is a warning with its reason; no INT8 file: int8 is null', () => {
    const c = withMeasuredLatency(card({ int8: undefined }), {
      float: {},
      int8: {},
      notMeasured: [{ device: 'd1', file: 'float', reason: 'no measurement from the agent within 120 s' }],
    });
    expect(c.measuredLatencyMs).toEqual({
      float: {},
      int8: null,
      geometry: 'proxy-28@28x28x1-c10',
      notMeasured: [{ device: 'd1', file: 'float', reason: 'no measurement from the agent within 120 s' }],
    });
    expect(c.warnings).toContain(
      'the float file was not measured on device d1: no measurement from the agent within 120 s',
    );
    // Nothing measured: no geometry note.
    expect(c.warnings.some((w) => w.startsWith('the measured latencies'))).toBe(false);
  });
});
