/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
/// <reference lib="dom" />
/**
 * The dashboard in headless Chromium on the real stack: real Temporal dev server, real API over HTTP on SQLite,
 * the worker as its own process training for real, the device agent benchmarking with ONNX Runtime (and
 * answering the job's verification requests). A tiny supernet job, submitted through the form.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import puppeteer, { Browser, Page } from 'puppeteer-core';
import { BaselineSummary, CandidateSummary, NasJobInput } from '@edgenas/contracts';
import { PROXY_28, parseArchitecture } from '@edgenas/search-space';
import { API_KEY, JobsStack, TestAgent, createTestAgent, startJobsStack } from './support/jobs-stack';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureChromium } = require('../scripts/ensure-chromium.js') as { ensureChromium: () => string };

jest.setTimeout(300_000);

const PORTS = { api: [3360, 3369], temporal: [7355, 7359] } as const;
const ARTIFACTS = join(__dirname, '..', 'test-artifacts');
/** The README's picture; rewritten only on request (EDGENAS_UPDATE_DOCS=1), so a test run leaves the tree clean. */
const DOCS_SCREENSHOT = join(__dirname, '..', 'docs', 'dashboard-job.png');
/** What the form's "More request fields" gets: budgets small enough for a test (the form sets the rest). */
const TINY_FIELDS = {
  seed: 5,
  proxy: { dataset: { trainSize: 64, valSize: 32 }, batchSize: 16 },
  budget: { generations: 2, population: 4, maxTrainedCandidates: 8 },
  evaluation: {
    supernet: { steps: 12, batchSize: 16, recalibrationBatches: 2, scoreImages: 32 },
    finalists: { count: 2, seeds: 2, steps: 3, batchSize: 16 },
    baselines: true,
  },
};

interface ParetoView {
  readonly front: CandidateSummary[];
  readonly baselines: BaselineSummary[];
}

describe('dashboard in headless Chromium on the real stack (Temporal dev server, API, worker process, SQLite, device agent)', () => {
  let stack: JobsStack;
  let agent: TestAgent;
  let browser: Browser;
  let page: Page;
  let downloads: string;
  let deviceId: string;
  let agentRunning = true;
  let agentLoop: Promise<void> | undefined;

  beforeAll(async () => {
    const executablePath = ensureChromium();
    downloads = mkdtempSync(join(tmpdir(), 'edgenas-downloads-'));
    stack = await startJobsStack(PORTS);
    agent = createTestAgent(stack, 'lab-cpu', [PROXY_28]);
    const first = await agent.pass();
    expect(first.online).toBe(true);
    deviceId = first.deviceId as string;
    await stack.startWorker({ trainingConcurrency: 2, verificationTimeoutSeconds: 60 });
    // The agent keeps running, as it would on the device: it answers the job's verification requests.
    agentLoop = (async () => {
      while (agentRunning) {
        await agent.pass();
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      // root in containers has no user namespace for Chromium's sandbox
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    // a loaded machine renders slowly: generous limits for every wait
    page.setDefaultTimeout(60_000);
    await page.setViewport({ width: 1200, height: 900 });
  });

  afterAll(async () => {
    await browser?.close();
    agentRunning = false;
    await agentLoop;
    agent?.close();
    await stack?.close();
    if (downloads) rmSync(downloads, { recursive: true, force: true });
  });

  const text = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
  const dots = (className: string) =>
    page.$$eval(`#pareto-chart g.${className} > *`, (els) => els.length).catch(() => 0);

  it('asks for the API key once and keeps it for the session', async () => {
    await page.goto(`${stack.apiUrl}/`);
    await page.waitForSelector('#api-key');
    await page.type('#api-key', 'wrong-key');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#login [role=alert]');
    expect(await text('#login [role=alert]')).toContain('refused');

    await page.$eval('#api-key', (el) => ((el as HTMLInputElement).value = ''));
    await page.type('#api-key', API_KEY);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#jobs');
    expect(await page.evaluate(() => sessionStorage.getItem('edgenas.apiKey'))).toBe(API_KEY);
    await page.reload();
    await page.waitForSelector('#jobs');
  });

  it('submits a small job through the form, watches the scatter fill in as the worker trains, opens a member and downloads its ONNX model', async () => {
    await page.goto(`${stack.apiUrl}/ui#/submit`);
    await page.waitForSelector('#latency-range');
    await page.$eval('#space', (el) => ((el as HTMLInputElement).value = 'proxy-28'));
    await page.$eval('#space', (el) => el.dispatchEvent(new Event('change')));
    await page.waitForFunction(() =>
      document.querySelector('#latency-range')?.textContent?.includes('Suggested budget'),
    );
    const range = await stack.http<{ suggestedBudgetMs: number }>(
      'GET',
      `/v1/devices/${deviceId}/latency-range?space=proxy-28`,
    );
    const suggested = await page.$eval('#budget', (el) => Number((el as HTMLInputElement).value));
    expect(suggested).toBe(Number(range.body.suggestedBudgetMs.toPrecision(3)));
    await page.select('#dataset', 'synthetic');
    await page.click('#more-fields summary');
    // what is not JSON is refused in the form, before anything is sent
    await page.type('#request-fields', '{"budget": ');
    await page.click('#submit-job button[type=submit]');
    await page.waitForSelector('section [role=alert]');
    expect(await text('section [role=alert]')).toMatch(/^More request fields: not JSON/);
    await page.$eval('#request-fields', (el) => ((el as HTMLTextAreaElement).value = ''));
    await page.type('#request-fields', JSON.stringify(TINY_FIELDS));
    await page.click('#submit-job button[type=submit]');

    await page.waitForFunction(() => /^#\/jobs\/[\w-]+$/.test(location.hash));
    const jobId = (await page.evaluate(() => location.hash)).slice('#/jobs/'.length);
    const job = await stack.http<{ input: NasJobInput }>('GET', `/v1/jobs/${jobId}`);
    // the form's fields and the extra ones both reached the API
    expect(job.body.input).toMatchObject({
      deviceIds: [deviceId],
      space: 'proxy-28',
      latencyBudgetMs: suggested,
      seed: 5,
      proxy: { dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 } },
      budget: { generations: 2, population: 4 },
      evaluation: { mode: 'supernet', supernet: { steps: 12 }, finalists: { count: 2, seeds: 2 } },
    });

    // While the worker runs, the search front so far is drawn, with what it is doing.
    await page.waitForFunction(
      () =>
        document.querySelector('#job-status')?.textContent === 'running' &&
        document.querySelectorAll('#pareto-chart g.front-dots > *').length > 0,
      { timeout: 240_000 },
    );
    expect(await text('#activity')).not.toBe('');
    await page.waitForFunction(() => document.querySelector('#job-status')?.textContent === 'completed', {
      timeout: 240_000,
    });

    // Final: the retrained finalists, the search front faint beside them, the baselines.
    const pareto = (await stack.http<ParetoView>('GET', `/v1/jobs/${jobId}/pareto`)).body;
    await page.waitForFunction(
      (n: number) => document.querySelectorAll('#pareto-chart g.front-dots > *').length === n,
      {},
      pareto.front.length,
    );
    expect(await dots('search-front-dots')).toBeGreaterThan(0);
    expect(await dots('baseline-dots')).toBe(4);
    expect(await text('#pareto-chart')).toContain('mobilenetv2-like');
    expect(await text('#pareto-chart')).toContain(
      `budget ${suggested < 1 ? suggested.toFixed(3) : suggested.toFixed(2)} ms`,
    );
    // predicted → measured latency of the members the agent measured
    const measured = [...pareto.front, ...pareto.baselines].filter(
      (c) => c.measuredLatencyByDevice?.[deviceId] !== undefined,
    );
    expect(measured.length).toBeGreaterThan(0);
    expect(await page.$$eval('#pareto-chart g[aria-label="link"] > path', (l) => l.length)).toBe(
      measured.length,
    );
    // error bars: one rule per member retrained over seeds (front and baselines)
    expect(
      await page.$$eval('#pareto-chart g[aria-label="rule"] line', (l) => l.length),
    ).toBeGreaterThanOrEqual(pareto.front.length + pareto.baselines.length);
    await page.waitForSelector('#hypervolume svg');

    // Hover shows the member and its numbers; a click opens it with its block diagram.
    const member = pareto.front[0];
    const box = await page.$eval('#pareto-chart g.front-dots > :first-child', (el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    });
    await page.mouse.move(box.x, box.y);
    await page.waitForFunction(
      (id: string) => document.querySelector('#pareto-chart g[aria-label="tip"]')?.textContent?.includes(id),
      {},
      member.architectureId,
    );
    await page.mouse.click(box.x, box.y);
    await page.waitForSelector('#selected #block-diagram svg');
    expect(await text('#selected')).toContain(member.architecture);
    const layers = parseArchitecture(member.architecture, PROXY_28).blocks.length;
    expect(await page.$$eval('#block-diagram g[aria-label="cell"] > *', (c) => c.length)).toBe(layers);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard-job.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.EDGENAS_UPDATE_DOCS === '1') copyFileSync(shot, DOCS_SCREENSHOT);

    // The model downloads with the key the page holds; it is the API's file, and ONNX Runtime runs it.
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', {
      behavior: 'allow',
      downloadPath: downloads,
      eventsEnabled: true,
    });
    const done = new Promise<void>((resolve) =>
      cdp.on('Browser.downloadProgress', (e) => {
        if (e.state === 'completed') resolve();
      }),
    );
    await page.click('#download-model');
    await done;
    const file = readFileSync(join(downloads, `${member.architectureId}.onnx`));
    const served = await stack.http(
      'GET',
      `/v1/jobs/${jobId}/architectures/${member.architectureId}/model.onnx`,
    );
    expect(file.equals(served.bytes)).toBe(true);
    const session = await ort.InferenceSession.create(file);
    const input = new ort.Tensor('float32', new Float32Array(28 * 28).fill(0.5), [1, 1, 28, 28]);
    const out = await session.run({ [session.inputNames[0]]: input });
    expect(out[session.outputNames[0]].dims).toEqual([1, 10]);
    await session.release();
    await page.waitForFunction(() =>
      document.querySelector('#download-status')?.textContent?.startsWith('saved'),
    );
  });

  it('lists the job and shows the device with its LUT coverage', async () => {
    await page.goto(`${stack.apiUrl}/ui#/jobs`);
    await page.waitForFunction(() => document.querySelector('#jobs')?.textContent?.includes('completed'));
    expect(await text('#jobs')).toContain('lab-cpu');
    await page.goto(`${stack.apiUrl}/ui#/devices`);
    await page.waitForFunction(() => document.querySelector('main')?.textContent?.includes('100 %'));
    expect(await text('main')).toContain('lab-cpu');
  });
});
