import { buildJobRequest } from './job-request';

const BASE = { deviceIds: ['d'], space: 'proxy-28', latencyBudgetMs: 2 };

describe('buildJobRequest --precision', () => {
  it('puts the flag in the body, over the file, and leaves it out when not given (the API defaults to fp32)', () => {
    expect(buildJobRequest(BASE, { precision: 'int8' })).toEqual({ ...BASE, precision: 'int8' });
    expect(buildJobRequest({ ...BASE, precision: 'fp32' }, { precision: 'int8' })).toEqual({
      ...BASE,
      precision: 'int8',
    });
    expect(buildJobRequest(BASE, {})).toEqual(BASE);
  });
});
