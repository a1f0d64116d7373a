import { ApiError, ErrorBody } from './api-error';
import { createValidationPipe } from './validation';
import { RegisterDeviceDto } from '../devices/devices.dto';
import { CreateJobDto } from '../jobs/jobs.dto';

const PROFILE = {
  name: 'xeon-1t',
  hardware: { cpuModel: 'Xeon', cores: 2, memoryBytes: 4_000_000_000, os: 'linux', arch: 'x64' },
  runtime: { engine: 'onnxruntime-node', engineVersion: '1.30.0', executionProvider: 'cpu', threads: 1 },
};
const JOB = { space: 'proxy-28', deviceIds: ['d-1'], latencyBudgetMs: 5 };

async function validate(metatype: new () => object, body: unknown): Promise<object> {
  return (await createValidationPipe().transform(body, { type: 'body', metatype })) as object;
}

async function refusedFields(metatype: new () => object, body: unknown): Promise<string[]> {
  try {
    await validate(metatype, body);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    expect(err.getStatus()).toBe(400);
    return (err.getResponse() as ErrorBody).errors.map((e) => e.field);
  }
  throw new Error('the body was accepted');
}

describe('precision in request bodies', () => {
  it('a device profile may name fp32 or int8, or leave it out (fp32)', async () => {
    for (const precision of ['fp32', 'int8']) {
      const dto = await validate(RegisterDeviceDto, { name: 'd', profile: { ...PROFILE, precision } });
      expect(dto).toMatchObject({ profile: { precision } });
    }
    const without = (await validate(RegisterDeviceDto, { name: 'd', profile: PROFILE })) as RegisterDeviceDto;
    expect(without.profile.precision).toBeUndefined();
  });

  it('a device profile with another precision is a 400 naming profile.precision', async () => {
    for (const precision of ['int4', 'FP32', 8, '']) {
      expect(
        await refusedFields(RegisterDeviceDto, { name: 'd', profile: { ...PROFILE, precision } }),
      ).toEqual(['profile.precision']);
    }
  });

  it('a job may name fp32 or int8, or leave it out', async () => {
    for (const precision of ['fp32', 'int8']) {
      expect(await validate(CreateJobDto, { ...JOB, precision })).toMatchObject({ precision });
    }
    expect(((await validate(CreateJobDto, JOB)) as CreateJobDto).precision).toBeUndefined();
  });

  it('a job with another precision is a 400 naming precision', async () => {
    for (const precision of ['float32', 'int16', 1, ['int8']]) {
      expect(await refusedFields(CreateJobDto, { ...JOB, precision })).toEqual(['precision']);
    }
  });
});
