import { ModelCard } from '@edgenas/contracts';
import { describeCard } from './final-models';

const CARD = {
  architecture: 'ir_k3_e1-skip',
  macs: 2e6,
  params: 1e5,
  files: { float: { bytes: 4096, sha256: 'a' }, int8: { bytes: 1024, sha256: 'b' } },
  dataset: { kind: 'synthetic', name: 'synthetic', trainImages: 64, valImages: 32, classes: 4 },
  geometry: {
    trainedAt: 'proxy',
    trained: 'proxy-28@28x28x1-c4',
    input: { height: 28, width: 28, channels: 1 },
    deployment: 'proxy-28',
    reason: 'r',
  },
  accuracy: { float: 0.5, int8: 0.5, int8DropPoints: 0, evaluatedImages: 32, runtime: 'ORT' },
  quantization: { method: 'minmax' },
  predictedLatencyMs: { d1: 0.25 },
  training: { steps: 40, resumedFromStep: 0, backend: 'tensorflow' },
  distillation: null,
  warnings: [],
} as unknown as ModelCard;

describe('describeCard', () => {
  it('prints the measured float and INT8 latency per device beside the prediction', () => {
    const lines = describeCard({
      ...CARD,
      measuredLatencyMs: {
        float: { d1: 0.3125, d2: 1.5 },
        int8: { d1: 0.1875 },
        geometry: 'proxy-28@28x28x1-c4',
        notMeasured: [{ device: 'd2', file: 'int8', reason: 'timeout' }],
      },
    });
    expect(lines).toContain('  predicted float latency at proxy-28: 0.250 ms on d1');
    expect(lines).toContain('  measured on d1 at proxy-28@28x28x1-c4: float 0.313 ms, INT8 0.188 ms');
    expect(lines).toContain('  measured on d2 at proxy-28@28x28x1-c4: float 1.500 ms, INT8 not measured');
  });

  it('says when no device measured the files, and prints nothing about it for older cards', () => {
    const none = describeCard({
      ...CARD,
      measuredLatencyMs: { float: {}, int8: null, geometry: 'g', notMeasured: [] },
    });
    expect(none).toContain('  not measured on any device (see the warnings)');
    expect(describeCard(CARD).some((l) => l.includes('measured on'))).toBe(false);
  });
});
