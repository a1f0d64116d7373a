import { Writable } from 'node:stream';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { activityLogging, createWorkerLogger, temporalLoggerFor } from './logging';

type Line = Record<string, unknown>;

/** A worker logger writing JSON into an array, as it would to stdout. */
function capture(level: 'info' | 'debug' = 'info') {
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { lines, logger: createWorkerLogger({ level, format: 'json', destination }) };
}

describe('worker logging', () => {
  it("writes Temporal's runtime lines as pino JSON: level, message, metadata; errors with message and stack", () => {
    const { lines, logger } = capture();
    const temporal = temporalLoggerFor(logger);
    temporal.debug('below the level', { sdkComponent: 'worker' });
    temporal.info('Workflow bundle created', { sdkComponent: 'worker', size: '1.2MB' });
    temporal.warn('Activity failed', { workflowId: 'w-1', error: new Error('no such folder') });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        service: 'edgenas-worker',
        msg: 'Workflow bundle created',
        sdkComponent: 'worker',
        size: '1.2MB',
        time: expect.any(Number),
      }),
      expect.objectContaining({
        level: 40,
        msg: 'Activity failed',
        workflowId: 'w-1',
        error: expect.objectContaining({
          type: 'Error',
          message: 'no such folder',
          stack: expect.stringContaining('no such folder'),
        }),
      }),
    ]);
  });

  it("logs each activity's start and end with workflow, activity and job ids; the job id is on the activity's own lines too", async () => {
    const { lines, logger } = capture();
    const env = new MockActivityEnvironment(
      {
        workflowExecution: { workflowId: 'job-7', runId: 'run-1' },
        activityId: '3',
        activityType: 'exportOnnx',
      },
      { logger: temporalLoggerFor(logger), interceptors: [activityLogging] },
    );
    const result = await env.run(
      async (req: { jobId: string }) => {
        Context.current().log.info('exporting', { bytes: 12 });
        return req.jobId;
      },
      { jobId: 'job-7' },
    );
    expect(result).toBe('job-7');
    const ids = { workflowId: 'job-7', activityId: '3', activityType: 'exportOnnx', jobId: 'job-7' };
    expect(lines.map((l) => l.msg)).toEqual(['activity started', 'exporting', 'activity completed']);
    for (const line of lines) expect(line).toMatchObject({ level: 30, ...ids });
    expect(lines[1].bytes).toBe(12);
    expect(lines[2].durationMs).toEqual(expect.any(Number));
  });

  it('logs a failure at warn with the reason, beside the SDK\'s own "Activity failed" line', async () => {
    const { lines, logger } = capture();
    const env = new MockActivityEnvironment(
      {
        workflowExecution: { workflowId: 'job-8', runId: 'run-1' },
        activityId: '5',
        activityType: 'trainSupernet',
      },
      { logger: temporalLoggerFor(logger), interceptors: [activityLogging] },
    );
    await expect(
      env.run(
        async (_req: { jobId: string }) => {
          throw ApplicationFailure.nonRetryable('image folder: /nowhere is not a directory', 'DatasetError');
        },
        { jobId: 'job-8' },
      ),
    ).rejects.toThrow('/nowhere');
    const failed = lines.filter((l) => l.level === 40);
    expect(failed.map((l) => l.msg)).toEqual(['activity failed', 'Activity failed']);
    for (const line of failed)
      expect(line).toMatchObject({ workflowId: 'job-8', activityId: '5', jobId: 'job-8' });
    expect(failed[0].error).toMatch(/ApplicationFailure: image folder: \/nowhere is not a directory/);
  });

  it('logs a cancelled activity as cancelled, not failed', async () => {
    const { lines, logger } = capture();
    const env = new MockActivityEnvironment(
      { workflowExecution: { workflowId: 'job-9', runId: 'run-1' } },
      { logger: temporalLoggerFor(logger), interceptors: [activityLogging] },
    );
    const run = env.run(
      async (_req: { jobId: string }) => {
        await Context.current().sleep(60_000);
      },
      { jobId: 'job-9' },
    );
    env.cancel();
    await expect(run).rejects.toThrow();
    expect(lines.map((l) => l.msg)).toEqual(['activity started', 'activity cancelled']);
    expect(lines[1]).toMatchObject({ level: 30, jobId: 'job-9' });
  });
});
