import { NasJobInput, ProxyDatasetSpec } from '@edgenas/contracts';
import { finalTrainingGeometry } from './final-training-request';

function job(
  space: string,
  input: NasJobInput['input'],
  dataset: ProxyDatasetSpec,
  resolution = 28,
): NasJobInput {
  return {
    jobId: 'j',
    deviceIds: ['d'],
    latencyBudgetMs: 1,
    space,
    input,
    classes: 10,
    proxy: { dataset, epochs: 1, batchSize: 16, resolution },
    budget: { generations: 1, population: 2, maxTrainedCandidates: 2, wallClockSeconds: 60 },
    strategy: 'nsga2',
    seed: 1,
  };
}

const FASHION: ProxyDatasetSpec = { kind: 'fashion-mnist', trainSize: 8000, valSize: 2000 };
const FOLDER: ProxyDatasetSpec = { kind: 'image-folder', path: '/data/pets', valFraction: 0.2 };

describe('finalTrainingGeometry', () => {
  it('trains Fashion-MNIST at the proxy geometry, saying why, unless the job deploys at it', () => {
    expect(finalTrainingGeometry(job('fbnet-224', { height: 96, width: 96, channels: 3 }, FASHION))).toEqual({
      at: 'proxy',
      space: 'proxy-28',
      resolution: 28,
      dataset: FASHION,
      reason:
        'Fashion-MNIST holds 28×28 grayscale images, which cannot be resized to the deployment input 96×96×3 ' +
        'meaningfully: trained and exported at the proxy geometry (28 px)',
    });
    expect(
      finalTrainingGeometry(job('proxy-28', { height: 28, width: 28, channels: 1 }, FASHION)),
    ).toMatchObject({
      at: 'deployment',
      space: 'proxy-28',
      resolution: 28,
    });
  });

  it('trains an image folder at a small square deployment input (RGB when it has 3 channels), else at the proxy', () => {
    expect(finalTrainingGeometry(job('fbnet-224', { height: 64, width: 64, channels: 3 }, FOLDER))).toEqual({
      at: 'deployment',
      space: 'fbnet-224',
      resolution: 64,
      dataset: { ...FOLDER, color: 'rgb' },
      reason: 'trained and exported at the deployment input 64×64×3 from the image folder',
    });
    const large = finalTrainingGeometry(
      job('fbnet-224', { height: 224, width: 224, channels: 3 }, FOLDER, 32),
    );
    expect(large).toMatchObject({ at: 'proxy', space: 'proxy-28', resolution: 32, dataset: FOLDER });
    expect(large.reason).toMatch(/224×224×3 is not a square of at most 64 px/);
  });
});
