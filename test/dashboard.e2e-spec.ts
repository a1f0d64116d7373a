/// <reference lib="dom" />
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { Browser, Page } from 'puppeteer-core';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28, parseArchitecture } from '@edgenas/search-space';
import { Storage, openStorage } from '@edgenas/storage';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';
import { ScriptedJobWorkflows, scriptedJob } from './support/scripted-job';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureChromium } = require('../scripts/ensure-chromium.js') as { ensureChromium: () => string };

const API_PORT = 3109;
const ARTIFACTS = join(__dirname, '..', 'test-artifacts');
/** The README's picture; rewritten only on request (EDGENAS_UPDATE_DOCS=1), so a test run leaves the tree clean. */
const DOCS_SCREENSHOT = join(__dirname, '..', 'docs', 'dashboard-job.png');

describe('dashboard in headless Chromium against the real API (real SQLite; a scripted workflow client plays the worker)', () => {
  let api: ApiTestContext;
  let storage: Storage;
  let browser: Browser;
  let page: Page;
  let downloads: string;
  const workflows = new ScriptedJobWorkflows();
  let device: { id: string; token: string };
  const base = `http://127.0.0.1:${API_PORT}`;

  beforeAll(async () => {
    const executablePath = ensureChromium();
    downloads = mkdtempSync(join(tmpdir(), 'edgenas-downloads-'));
    api = await startApiForTest(API_PORT, { workflows });
    storage = await openStorage(api.databaseUrl);
    device = (
      await api
        .http()
        .post('/v1/devices')
        .set(...auth(USER_KEY))
        .send({ name: 'lab-cpu', profile: PROFILE })
    ).body;
    await api
      .http()
      .post(`/v1/devices/${device.id}/measurements`)
      .set(...auth(device.token))
      .send({ blocks: spaceSignatures(PROXY_28).map((s) => syntheticBlockRow(s)) })
      .expect(200);
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      // root in containers has no user namespace for Chromium's sandbox
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await storage?.close();
    await api?.close();
    if (downloads) rmSync(downloads, { recursive: true, force: true });
  });

  const text = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
  const dots = (className: string) =>
    page.$$eval(`#pareto-chart g.${className} > *`, (els) => els.length).catch(() => 0);

  it('asks for the API key once and keeps it for the session', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('#api-key');
    await page.type('#api-key', 'wrong-key');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#login [role=alert]');
    expect(await text('#login [role=alert]')).toContain('refused');

    await page.$eval('#api-key', (el) => ((el as HTMLInputElement).value = ''));
    await page.type('#api-key', USER_KEY);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#jobs');
    expect(await page.evaluate(() => sessionStorage.getItem('edgenas.apiKey'))).toBe(USER_KEY);
    await page.reload();
    await page.waitForSelector('#jobs');
  });

  it('submits a job with the latency range proposing the budget, then watches the scatter fill in', async () => {
    await page.goto(`${base}/ui#/submit`);
    await page.waitForSelector('#latency-range');
    await page.$eval('#space', (el) => ((el as HTMLInputElement).value = 'proxy-28'));
    await page.$eval('#space', (el) => el.dispatchEvent(new Event('change')));
    await page.waitForFunction(() =>
      document.querySelector('#latency-range')?.textContent?.includes('Suggested budget'),
    );
    const range = await api
      .http()
      .get(`/v1/devices/${device.id}/latency-range?space=proxy-28`)
      .set(...auth(USER_KEY));
    const suggested = await page.$eval('#budget', (el) => Number((el as HTMLInputElement).value));
    expect(suggested).toBe(Number(range.body.suggestedBudgetMs.toPrecision(3)));
    await page.select('#dataset', 'synthetic');

    const started = workflows.nextStart();
    await page.click('#submit-job button[type=submit]');
    const jobId = await started;
    await page.waitForSelector('#pareto-chart');
    expect(page.url()).toContain(`#/jobs/${jobId}`);
    expect(await text('#job-status')).toBe('queued');

    const job = scriptedJob(device.id, suggested);
    await storage.jobs.setStatus(jobId, 'running');
    // every candidate is drawn: scored ones, and those over budget (never trained) along the bottom
    const extra = [
      ...job.searchFront.map((c, i) => ({
        ...c,
        status: 'scored' as const,
        architectureId: `${c.architectureId}x${i}`,
      })),
      { ...job.baselines[0], architectureId: 'over', status: 'over-budget' as const, accuracy: null },
    ];
    for (const c of extra)
      await storage.candidates.upsert({
        jobId,
        architectureId: c.architectureId,
        architecture: c.architecture,
        generation: 1,
        status: c.status,
        accuracy: c.accuracy,
        predictedLatencyMs: c.predictedLatencyMs,
        predictedLatencyByDevice: c.predictedLatencyByDevice,
      });
    workflows.current = job.progress(1);
    await page.waitForFunction(() =>
      document.querySelector('#activity')?.textContent?.includes('scoring 32/256'),
    );
    // while running, the front is the search's so far
    await page.waitForFunction(
      () => document.querySelectorAll('#pareto-chart g.front-dots > *').length === 2,
    );
    expect(await dots('candidate-dots')).toBe(extra.length);
    workflows.current = job.progress(3);
    await page.waitForFunction(
      () => document.querySelectorAll('#pareto-chart g.front-dots > *').length === 4,
    );
    await page.waitForSelector('#hypervolume svg');

    await storage.models.save(
      jobId,
      job.front[0].architectureId,
      new Uint8Array([8, 7, 1, 2, 3]),
      'test model',
    );
    await storage.jobs.setStatus(jobId, 'completed', { result: job.result });
    await page.waitForFunction(() => document.querySelector('#job-status')?.textContent === 'completed');
    // final: the retrained finalists, the search front faint beside them, baselines
    await page.waitForFunction(
      () => document.querySelectorAll('#pareto-chart g.search-front-dots > *').length === 4,
    );
    expect(await dots('front-dots')).toBe(4);
    expect(await dots('baseline-dots')).toBe(1);
    expect(await text('#pareto-chart')).toContain('mobilenetv2-like');
    expect(await text('#pareto-chart')).toContain(
      `budget ${suggested < 1 ? suggested.toFixed(3) : suggested.toFixed(2)} ms`,
    );
    // predicted → measured latency of the verified member
    expect(await page.$$eval('#pareto-chart g[aria-label="link"] > path', (l) => l.length)).toBe(1);
    // error bars: one rule per member with seeds (front and baseline)
    expect(
      await page.$$eval('#pareto-chart g[aria-label="rule"] line', (l) => l.length),
    ).toBeGreaterThanOrEqual(5);

    // hover shows the architecture and its numbers; a click opens it
    const box = await page.$eval('#pareto-chart g.front-dots > :first-child', (el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    });
    await page.mouse.move(box.x, box.y);
    await page.waitForFunction(
      (id: string) => document.querySelector('#pareto-chart g[aria-label="tip"]')?.textContent?.includes(id),
      {},
      job.front[0].architectureId,
    );
    await page.mouse.click(box.x, box.y);
    await page.waitForSelector('#selected #block-diagram svg');
    expect(await text('#selected')).toContain(job.front[0].architecture);
    const layers = parseArchitecture(job.front[0].architecture, PROXY_28).blocks.length;
    expect(await page.$$eval('#block-diagram g[aria-label="cell"] > *', (c) => c.length)).toBe(layers);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard-job.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.EDGENAS_UPDATE_DOCS === '1') copyFileSync(shot, DOCS_SCREENSHOT);

    // the model downloads with the key the page holds
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
    expect([...readFileSync(join(downloads, `${job.front[0].architectureId}.onnx`))]).toEqual([
      8, 7, 1, 2, 3,
    ]);
    await page.waitForFunction(() =>
      document.querySelector('#download-status')?.textContent?.startsWith('saved'),
    );
  });

  it('lists the job and shows the device with its LUT coverage', async () => {
    await page.goto(`${base}/ui#/jobs`);
    await page.waitForFunction(() => document.querySelector('#jobs')?.textContent?.includes('completed'));
    expect(await text('#jobs')).toContain('lab-cpu');
    await page.goto(`${base}/ui#/devices`);
    await page.waitForFunction(() => document.querySelector('main')?.textContent?.includes('100 %'));
    expect(await text('main')).toContain('lab-cpu');
  });
});
