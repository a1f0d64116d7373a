// EdgeNAS dashboard: plain DOM and Observable Plot (served from node_modules), no build step.
const { Plot } = window;
const KEY = 'edgenas.apiKey';
const main = document.getElementById('main');
const REFRESH_MS = 2000;
let refreshTimer;

/** An element with attributes/properties and children (strings become text nodes, never HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c);
  return el;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: {
      Authorization: `Bearer ${sessionStorage.getItem(KEY) ?? ''}`,
      ...(options.body ? { 'Content-Type': 'application/json' } : {}),
    },
  });
  if (res.status === 401) {
    sessionStorage.removeItem(KEY);
    location.hash = '#/login';
    throw new ApiError(401, 'the API key was refused');
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new ApiError(res.status, body.message ?? `HTTP ${res.status}`);
  }
  return options.raw ? res : res.json();
}

const fmtMs = (ms) => (ms === undefined || ms === null ? '–' : ms < 1 ? ms.toFixed(3) : ms.toFixed(2));
const fmtPct = (x) => (x === undefined || x === null ? '–' : `${(x * 100).toFixed(1)} %`);
const fmtCount = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : `${(n / 1e3).toFixed(1)} k`);
const worst = (byDevice) => {
  const v = Object.values(byDevice ?? {});
  return v.length ? Math.max(...v) : undefined;
};

function show(...children) {
  clearTimeout(refreshTimer);
  main.replaceChildren(...children);
}

/** Runs `fn` every `ms` while the page that scheduled it is shown; `fn` returning false stops it. */
function every(ms, fn) {
  const marker = main.firstElementChild;
  const tick = async () => {
    let again = true;
    try {
      again = (await fn()) !== false;
    } catch (err) {
      console.warn('refresh failed', err);
    }
    if (again && document.body.contains(marker)) refreshTimer = setTimeout(tick, ms);
  };
  refreshTimer = setTimeout(tick, ms);
}

function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}

// ---------------------------------------------------------------- login

function loginPage() {
  const input = h('input', {
    type: 'password',
    id: 'api-key',
    placeholder: 'enk_…',
    size: 40,
    autocomplete: 'off',
  });
  const message = h('p');
  const form = h(
    'form',
    {
      id: 'login',
      onsubmit: async (e) => {
        e.preventDefault();
        sessionStorage.setItem(KEY, input.value.trim());
        try {
          await api('/v1/devices');
          location.hash = '#/jobs';
        } catch (err) {
          message.replaceChildren(errorBox(err));
        }
      },
    },
    h(
      'p',
      {},
      'Enter a user API key (printed by ',
      h('code', {}, 'npm start'),
      '; kept for this browser session).',
    ),
    input,
    ' ',
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
    message,
  );
  show(h('section', {}, h('h1', {}, 'Sign in'), form));
  input.focus();
}

// ---------------------------------------------------------------- jobs list

async function jobsPage() {
  const body = h('tbody');
  show(
    h(
      'section',
      {},
      h('h1', {}, 'Jobs'),
      h(
        'table',
        { id: 'jobs' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['job', 'status', 'progress', 'budget', 'devices', 'created'].map((t) => h('th', {}, t)),
          ),
        ),
        body,
      ),
    ),
  );
  const render = async () => {
    const [jobs, devices] = await Promise.all([api('/v1/jobs?limit=50'), api('/v1/devices')]);
    const names = new Map(devices.map((d) => [d.id, d.name]));
    const views = await Promise.all(
      jobs.map((j) => (j.status === 'running' || j.status === 'queued' ? api(`/v1/jobs/${j.id}`) : null)),
    );
    body.replaceChildren(
      ...jobs.map((j, i) => {
        const p = views[i]?.progress;
        return h(
          'tr',
          {},
          h('td', {}, h('a', { href: `#/jobs/${j.id}`, class: 'mono' }, j.id.slice(0, 8))),
          h('td', { class: `status-${j.status}` }, j.status),
          h(
            'td',
            {},
            p ? `gen ${p.generation}/${p.generations} · ${p.activity ?? `${p.trained} trained`}` : '',
          ),
          h('td', {}, `${fmtMs(j.latencyBudgetMs)} ms`),
          h('td', {}, j.deviceIds.map((d) => names.get(d) ?? d).join(', ')),
          h('td', { class: 'muted' }, j.createdAt.replace('T', ' ').slice(0, 19)),
        );
      }),
    );
    if (jobs.length === 0)
      body.replaceChildren(
        h('tr', {}, h('td', { colspan: 6 }, 'No jobs yet: ', h('a', { href: '#/submit' }, 'submit one'))),
      );
  };
  await render();
  every(REFRESH_MS * 2, render);
}

// ---------------------------------------------------------------- job page

const KINDS = [
  ['Pareto front', '#1f6feb'],
  ['search front (supernet score)', '#9aa4b2'],
  ['baseline', '#e36209'],
  ['measured on device', '#1a7f37'],
  ['trained', '#8250df'],
  ['scored by supernet', '#c7cdd6'],
  ['over budget (not trained)', '#d4a72c'],
  ['failed', '#cf222e'],
];

function pointOf(c, kind, extra = {}) {
  return {
    kind,
    id: c.architectureId,
    architecture: c.architecture,
    latency: c.predictedLatencyMs ?? worst(c.predictedLatencyByDevice),
    measured: worst(c.measuredLatencyByDevice),
    accuracy: c.accuracy ?? 0,
    sd: c.accuracySd,
    seeds: c.seedAccuracies,
    macs: c.macs,
    params: c.params,
    modelUrl: c.modelUrl ?? null,
    source:
      c.accuracySource ??
      (c.status === 'scored' ? 'supernet' : c.status === 'trained' ? 'standalone' : undefined),
    ...extra,
  };
}

function describe(d) {
  return [
    `${d.name ? `${d.name} · ` : ''}${d.kind}${d.source ? ` (${d.source})` : ''}`,
    `id ${d.id}`,
    `accuracy ${fmtPct(d.accuracy)}${d.sd !== undefined ? ` ± ${(d.sd * 100).toFixed(1)}` : ''}${d.seeds ? ` (seeds ${d.seeds.map(fmtPct).join(', ')})` : ''}`,
    `latency ${fmtMs(d.latency)} ms predicted${d.measured !== undefined ? `, ${fmtMs(d.measured)} ms measured` : ''}`,
    d.macs ? `${fmtCount(d.macs)} MACs · ${fmtCount(d.params)} params` : '',
    d.architecture,
  ]
    .filter(Boolean)
    .join('\n');
}

function paretoChart(pareto, candidates, selected, onPick) {
  const budget = pareto.latencyBudgetMs;
  // a baseline that no finalist dominates is on the front too: keep its name
  const front = pareto.front.map((c) => pointOf(c, KINDS[0][0], { name: c.baseline }));
  const search = (pareto.searchFront ?? []).map((c) => pointOf(c, KINDS[1][0]));
  const baselines = pareto.baselines.map((c) => pointOf(c, KINDS[2][0], { name: c.baseline }));
  const onFront = new Set([...front, ...search].map((p) => p.id));
  const others = candidates
    .filter((c) => !onFront.has(c.architectureId) && c.predictedLatencyMs !== null)
    .map((c) =>
      pointOf(
        c,
        c.status === 'trained'
          ? KINDS[4][0]
          : c.status === 'scored'
            ? KINDS[5][0]
            : c.status === 'failed'
              ? KINDS[7][0]
              : KINDS[6][0],
      ),
    );
  const measured = [...front, ...baselines].filter((p) => p.measured !== undefined);
  const withSpread = [...front, ...baselines].filter((p) => p.sd !== undefined || p.seeds);
  const spread = (p) =>
    p.seeds ? [Math.min(...p.seeds), Math.max(...p.seeds)] : [p.accuracy - p.sd, p.accuracy + p.sd];
  const pickable = [...front, ...baselines, ...search, ...others];
  const figure = Plot.plot({
    width: Math.min(main.clientWidth - 40, 1000),
    height: 440,
    grid: true,
    marginRight: 30,
    x: { label: 'predicted latency (ms) →', nice: true },
    y: { label: '↑ accuracy', tickFormat: '%', nice: true },
    color: { legend: true, domain: KINDS.map((k) => k[0]), range: KINDS.map((k) => k[1]) },
    marks: [
      Plot.dot(others, {
        className: 'candidate-dots',
        x: 'latency',
        y: 'accuracy',
        stroke: 'kind',
        r: 2.5,
        symbol: (d) => (d.kind === KINDS[5][0] || d.kind === KINDS[4][0] ? 'circle' : 'times'),
      }),
      Plot.dot(search, {
        className: 'search-front-dots',
        x: 'latency',
        y: 'accuracy',
        fill: 'kind',
        r: 4,
        fillOpacity: 0.6,
      }),
      Plot.ruleX(withSpread, {
        x: 'latency',
        y1: (p) => spread(p)[0],
        y2: (p) => spread(p)[1],
        stroke: 'kind',
        strokeWidth: 2,
      }),
      Plot.line(
        [...front].sort((a, b) => a.latency - b.latency),
        { x: 'latency', y: 'accuracy', stroke: 'kind', curve: 'step-after' },
      ),
      Plot.link(measured, {
        x1: 'latency',
        x2: 'measured',
        y1: 'accuracy',
        y2: 'accuracy',
        stroke: () => KINDS[3][0],
        markerEnd: 'arrow',
      }),
      Plot.dot(measured, { x: 'measured', y: 'accuracy', stroke: () => KINDS[3][0], r: 4 }),
      Plot.dot(front, { className: 'front-dots', x: 'latency', y: 'accuracy', fill: 'kind', r: 5 }),
      Plot.dot(baselines, {
        className: 'baseline-dots',
        x: 'latency',
        y: 'accuracy',
        fill: 'kind',
        symbol: 'diamond',
        r: 6,
      }),
      Plot.text(baselines, { x: 'latency', y: 'accuracy', text: 'name', dy: -12, fill: KINDS[2][1] }),
      Plot.ruleX([budget], { stroke: '#cf222e', strokeDasharray: '5,4', strokeWidth: 1.5 }),
      Plot.text([budget], {
        x: (b) => b,
        frameAnchor: 'top',
        dy: 4,
        dx: 4,
        textAnchor: 'start',
        fill: '#cf222e',
        text: (b) => `budget ${fmtMs(b)} ms`,
      }),
      Plot.dot(selected ? [selected] : [], {
        x: 'latency',
        y: 'accuracy',
        r: 10,
        stroke: 'black',
        strokeWidth: 2,
      }),
      Plot.tip(pickable, Plot.pointer({ x: 'latency', y: 'accuracy', title: describe })),
    ],
  });
  figure.id = 'pareto-chart';
  figure.addEventListener('click', () => {
    if (figure.value) onPick(figure.value);
  });
  return figure;
}

function hypervolumeChart(history, final) {
  if (!history || history.length === 0)
    return h(
      'p',
      { class: 'muted' },
      final === null ? 'No generation finished yet.' : `Final hypervolume ${final.toFixed(4)}.`,
    );
  const data = history.map((hv, i) => ({ generation: i + 1, hv }));
  return Plot.plot({
    width: Math.min(main.clientWidth - 40, 1000),
    height: 200,
    grid: true,
    x: {
      label: 'generation →',
      tickFormat: 'd',
      ticks: history.length <= 12 ? data.map((d) => d.generation) : 12,
    },
    y: { label: '↑ hypervolume', zero: true },
    marks: [
      Plot.lineY(data, { x: 'generation', y: 'hv', stroke: '#1f6feb' }),
      Plot.dot(data, { x: 'generation', y: 'hv', fill: '#1f6feb', tip: true }),
    ],
  });
}

/** The architecture string drawn as stages (rows) of blocks (cells). */
function blockDiagram(architecture) {
  const family = (b) =>
    b === 'skip'
      ? 'skip'
      : b.startsWith('shuffle')
        ? 'shuffle unit'
        : b.includes('_g2')
          ? 'inverted residual, grouped'
          : 'inverted residual';
  const stages = architecture.split('/').map((s) => s.split('-'));
  const data = stages.flatMap((layers, s) =>
    layers.map((block, l) => ({ stage: `stage ${s + 1}`, layer: l + 1, block, family: family(block) })),
  );
  return Plot.plot({
    width: Math.min(main.clientWidth - 40, 900),
    height: 40 + stages.length * 34,
    marginLeft: 70,
    padding: 0.08,
    x: { label: 'layer in stage →', tickFormat: 'd' },
    y: { label: null, domain: stages.map((_, s) => `stage ${s + 1}`) },
    color: {
      legend: true,
      domain: ['inverted residual', 'inverted residual, grouped', 'shuffle unit', 'skip'],
      range: ['#1f6feb', '#8250df', '#e36209', '#d0d7de'],
    },
    marks: [
      Plot.cell(data, { x: 'layer', y: 'stage', fill: 'family', inset: 1, rx: 3 }),
      Plot.text(data, {
        x: 'layer',
        y: 'stage',
        text: 'block',
        fill: (d) => (d.family === 'skip' ? '#1d2430' : 'white'),
        fontSize: 11,
      }),
    ],
  });
}

async function downloadModel(jobId, point, status) {
  status.textContent = 'downloading…';
  try {
    const res = await api(point.modelUrl, { raw: true });
    const blob = await res.blob();
    const a = h('a', { href: URL.createObjectURL(blob), download: `${point.id}.onnx` });
    document.body.append(a);
    a.click();
    a.remove();
    status.textContent = `saved ${point.id}.onnx (${blob.size} bytes)`;
  } catch (err) {
    status.replaceChildren(errorBox(err));
  }
}

function detailPanel(jobId, point) {
  if (!point)
    return h('p', { class: 'muted' }, 'Click a point for its numbers, block diagram and ONNX model.');
  const status = h('span', { class: 'muted', id: 'download-status' });
  return h(
    'div',
    { id: 'selected' },
    h('h2', {}, `${point.name ? `${point.name} — ` : ''}${point.kind}`),
    h('pre', { class: 'mono' }, describe(point)),
    point.modelUrl
      ? h(
          'button',
          {
            id: 'download-model',
            class: 'primary',
            type: 'button',
            onclick: () => downloadModel(jobId, point, status),
          },
          'Download ONNX model',
        )
      : h('span', { class: 'muted' }, 'No exported model for this architecture.'),
    ' ',
    status,
    point.architecture ? h('div', { id: 'block-diagram' }, blockDiagram(point.architecture)) : '',
  );
}

async function jobPage(id) {
  const header = h('div');
  const chart = h('div', { id: 'pareto' });
  const hv = h('div', { id: 'hypervolume' });
  const detail = h('div', { id: 'detail' });
  show(
    h(
      'div',
      { id: 'job-page' },
      h('section', {}, header),
      h('section', {}, h('h2', {}, 'Pareto front: accuracy vs latency'), chart),
      h('section', {}, detail),
      h('section', {}, h('h2', {}, 'Hypervolume over generations'), hv),
    ),
  );
  let selected;
  let history;
  let lastData = '';
  let state;
  const pick = (point) => {
    selected = point;
    detail.replaceChildren(detailPanel(id, point));
    chart.replaceChildren(paretoChart(state.pareto, state.candidates, selected, pick));
  };
  const render = async () => {
    const [view, pareto, candidates] = await Promise.all([
      api(`/v1/jobs/${id}`),
      api(`/v1/jobs/${id}/pareto`),
      api(`/v1/jobs/${id}/candidates`),
    ]);
    const p = view.progress;
    header.replaceChildren(
      h('h1', {}, 'Job ', h('span', { class: 'mono' }, id)),
      h(
        'p',
        {},
        h('strong', { class: `status-${view.status}`, id: 'job-status' }, view.status),
        ` · ${view.input.space} · budget ${fmtMs(view.input.latencyBudgetMs)} ms · ${pareto.evaluationMode}`,
        p
          ? ` · generation ${p.generation}/${p.generations} · ${p.trained} trained · ${p.rejectedOverBudget} over budget`
          : '',
        p?.activity ? h('span', { id: 'activity' }, ` · ${p.activity}`) : '',
      ),
      view.error ? errorBox(view.error) : '',
      h(
        'p',
        { class: 'muted' },
        `${candidates.length} candidates recorded · front of ${pareto.front.length}${pareto.final ? '' : ' so far'}`,
      ),
    );
    const data = JSON.stringify([pareto, candidates.map((c) => [c.architectureId, c.status, c.accuracy])]);
    if (data !== lastData) {
      lastData = data;
      state = { pareto, candidates };
      chart.replaceChildren(paretoChart(pareto, candidates, selected, pick));
      // a finished job reports no history: keep what this page saw while it ran
      history = pareto.hypervolumeHistory ?? p?.hypervolumeHistory ?? history;
      hv.replaceChildren(hypervolumeChart(history, pareto.hypervolume));
      if (!selected) detail.replaceChildren(detailPanel(id, undefined));
    }
    return view.status;
  };
  const status = await render();
  if (status === 'queued' || status === 'running')
    every(REFRESH_MS, async () => {
      const s = await render();
      return s === 'queued' || s === 'running';
    });
}

// ---------------------------------------------------------------- devices

const DEFAULT_SPACES = ['proxy-28', 'fbnet-224@96x96x3-c10', 'fbnet-224'];

async function devicesPage() {
  const container = h('div');
  show(h('section', {}, h('h1', {}, 'Devices'), container));
  const [devices, jobs] = await Promise.all([api('/v1/devices'), api('/v1/jobs?limit=20')]);
  const spaces = [...new Set([...DEFAULT_SPACES, ...jobs.map((j) => j.space)])];
  if (devices.length === 0)
    container.append(h('p', {}, 'No devices yet: run a device agent (npm start runs one for this machine).'));
  for (const d of devices) {
    const rows = await Promise.all(
      spaces.map((s) => api(`/v1/devices/${d.id}/lut?space=${encodeURIComponent(s)}`).catch(() => null)),
    );
    container.append(
      h(
        'div',
        { class: 'device' },
        h('h2', {}, d.name),
        h(
          'p',
          { class: 'muted' },
          `${d.profile.name} · ${d.profile.hardware?.cpuModel ?? ''} · ${d.profile.runtime?.engine ?? ''} ${d.profile.runtime?.engineVersion ?? ''} ${d.profile.runtime?.executionProvider ?? ''} · ${d.profile.runtime?.threads ?? '?'} thread(s) · ${d.precision ?? 'fp32'} · `,
          h('span', { class: 'mono' }, d.id),
        ),
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['space', 'LUT coverage', 'calibration', 'error (RMS, rel.)', 'drift'].map((t) =>
                h('th', {}, t),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            ...rows.map((r, i) => {
              const c = r?.calibration;
              return h(
                'tr',
                {},
                h('td', { class: 'mono' }, spaces[i]),
                h(
                  'td',
                  {},
                  r?.coverage
                    ? `${r.coverage.covered}/${r.coverage.total} (${(r.coverage.ratio * 100).toFixed(0)} %)`
                    : '–',
                ),
                h(
                  'td',
                  {},
                  c
                    ? `${c.model}, ${c.samples} networks${c.stale ? ' · stale' : ''}`
                    : (r?.calibrationNote ?? '–'),
                ),
                h('td', {}, c ? `${(c.residualSigmaRel * 100).toFixed(1)} %` : '–'),
                h(
                  'td',
                  { class: c?.stale ? 'error' : '' },
                  c
                    ? `scale ${c.driftScale?.toFixed(3) ?? '1.000'}${c.staleReason ? ` · ${c.staleReason}` : ''}`
                    : '–',
                ),
              );
            }),
          ),
        ),
      ),
    );
  }
}

// ---------------------------------------------------------------- submit

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` laid on `under`, objects merged key by key (arrays and values replaced). */
function merge(under, over) {
  const out = { ...under };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? merge(out[k], v) : v;
  return out;
}

/** The extra request fields: empty, or one JSON object. */
function parseFields(text) {
  if (text.trim() === '') return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`More request fields: not JSON (${err.message})`);
  }
  if (!isObject(value)) throw new Error('More request fields: give one JSON object, {…}');
  return value;
}

async function submitPage() {
  const devices = await api('/v1/devices');
  const device = h(
    'select',
    { id: 'device', name: 'device' },
    ...devices.map((d) => h('option', { value: d.id }, d.name)),
  );
  const space = h('input', { id: 'space', value: 'fbnet-224@96x96x3-c10', size: 28 });
  const budget = h('input', { id: 'budget', type: 'number', step: 'any', min: '0.001', required: true });
  const preset = h(
    'select',
    { id: 'preset' },
    ...['quick', 'standard', 'thorough'].map((p) => h('option', { value: p }, p)),
  );
  const dataset = h(
    'select',
    { id: 'dataset' },
    h('option', { value: 'fashion-mnist' }, 'Fashion-MNIST'),
    h('option', { value: 'synthetic' }, 'synthetic'),
  );
  const mode = h(
    'select',
    { id: 'mode' },
    h('option', { value: 'supernet' }, 'supernet (weight sharing)'),
    h('option', { value: 'standalone' }, 'standalone (train each)'),
  );
  const fields = h('textarea', {
    id: 'request-fields',
    rows: 6,
    spellcheck: false,
    placeholder: '{"budget": {"generations": 4}, "evaluation": {"finalists": {"count": 2}}}',
  });
  const more = h(
    'details',
    { id: 'more-fields' },
    h('summary', {}, 'More request fields (JSON)'),
    h(
      'p',
      { class: 'muted' },
      'Any field of the request body (',
      h('a', { href: '/docs', target: '_blank' }, 'POST /v1/jobs'),
      '), e.g. budgets and seeds: they win over the preset; the fields above win over them.',
    ),
    fields,
  );
  const range = h('div', { class: 'range', id: 'latency-range' });
  const message = h('div');
  const loadRange = async () => {
    range.replaceChildren(h('span', { class: 'muted' }, 'pricing the space…'));
    try {
      const r = await api(
        `/v1/devices/${device.value}/latency-range?space=${encodeURIComponent(space.value)}`,
      );
      budget.value = String(Number(r.suggestedBudgetMs.toPrecision(3)));
      const marks = [
        ['fastest', r.fastestAchievableMs],
        ['p10', r.p10Ms],
        ['median', r.medianMs],
        ['p90', r.p90Ms],
        ['slowest sampled', r.sampledSlowestMs],
      ];
      range.replaceChildren(
        h(
          'p',
          {},
          `Achievable on this device: fastest ${fmtMs(r.fastestAchievableMs)} ms, median ${fmtMs(r.medianMs)} ms, slowest sampled ${fmtMs(r.sampledSlowestMs)} ms (${r.samples} random architectures). Suggested budget: the median.`,
        ),
        Plot.plot({
          width: 600,
          height: 70,
          x: { label: 'ms', nice: true },
          y: { axis: null },
          marks: [
            Plot.ruleY([0]),
            Plot.tickX(marks, { x: (m) => m[1], stroke: '#1f6feb' }),
            Plot.text(marks, { x: (m) => m[1], text: (m) => m[0], dy: -12, fontSize: 10 }),
            Plot.ruleX([Number(budget.value)], { stroke: '#cf222e', strokeDasharray: '4,3' }),
          ],
        }),
      );
    } catch (err) {
      range.replaceChildren(errorBox(err));
    }
  };
  device.addEventListener('change', loadRange);
  space.addEventListener('change', loadRange);
  const form = h(
    'form',
    {
      class: 'grid',
      id: 'submit-job',
      onsubmit: async (e) => {
        e.preventDefault();
        message.replaceChildren();
        try {
          const body = merge(parseFields(fields.value), {
            deviceIds: [device.value],
            space: space.value,
            latencyBudgetMs: Number(budget.value),
            preset: preset.value,
            proxy: { dataset: { kind: dataset.value } },
            evaluation: { mode: mode.value },
          });
          const created = await api('/v1/jobs', { method: 'POST', body: JSON.stringify(body) });
          location.hash = `#/jobs/${created.id}`;
        } catch (err) {
          message.replaceChildren(errorBox(err));
        }
      },
    },
    h('label', { for: 'device' }, 'Device'),
    device,
    h('label', { for: 'space' }, 'Space @ deployment geometry'),
    space,
    h('span'),
    range,
    h('label', { for: 'budget' }, 'Latency budget (ms)'),
    budget,
    h('label', { for: 'preset' }, 'Preset'),
    preset,
    h('label', { for: 'dataset' }, 'Proxy dataset'),
    dataset,
    h('label', { for: 'mode' }, 'Evaluation'),
    mode,
    h('span'),
    more,
    h('span'),
    h('button', { class: 'primary', type: 'submit' }, 'Submit job'),
  );
  show(
    h('section', {}, h('h1', {}, 'New job'), devices.length ? form : h('p', {}, 'No devices yet.'), message),
  );
  if (devices.length) await loadRange();
}

// ---------------------------------------------------------------- routing

async function route() {
  const hash = location.hash || '#/jobs';
  document.getElementById('logout').hidden = !sessionStorage.getItem(KEY);
  if (!sessionStorage.getItem(KEY) && hash !== '#/login') {
    location.hash = '#/login';
    return;
  }
  try {
    const job = /^#\/jobs\/([\w-]+)$/.exec(hash);
    if (hash === '#/login') loginPage();
    else if (job) await jobPage(job[1]);
    else if (hash === '#/devices') await devicesPage();
    else if (hash === '#/submit') await submitPage();
    else await jobsPage();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) show(h('section', {}, errorBox(err)));
  }
}

document.getElementById('logout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  location.hash = '#/login';
});
window.addEventListener('hashchange', route);
route();
