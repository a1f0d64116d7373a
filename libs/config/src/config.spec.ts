import { ConfigError, agentConfig, apiConfig, launcherConfig, workerConfig } from './index';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('runtime configuration', () => {
  it('fills the defaults when nothing is set', () => {
    expect(apiConfig({})).toEqual({
      port: 3000,
      databaseUrl: undefined,
      temporal: { address: 'localhost:7233', namespace: 'default', addressGiven: false },
      apiKeys: [],
      calibrationRefreshMinutes: undefined,
      dataDir: '.edgenas',
      datasetsDirs: ['.edgenas/datasets'],
      log: { level: 'info', format: 'json' },
      rateLimitPerMinute: 1200,
    });
    expect(apiConfig({ EDGENAS_LOG_LEVEL: 'debug', EDGENAS_LOG_FORMAT: 'pretty' }).log).toEqual({
      level: 'debug',
      format: 'pretty',
    });
    expect(() => apiConfig({ EDGENAS_LOG_LEVEL: 'loud' })).toThrow(/EDGENAS_LOG_LEVEL must be one of/);
    expect(workerConfig({}).dataDir).toBe('.edgenas');
    expect(workerConfig({}).log).toEqual({ level: 'info', format: 'json' });
    expect(workerConfig({ EDGENAS_LOG_FORMAT: 'pretty' }).log.format).toBe('pretty');
    expect(() => workerConfig({ EDGENAS_LOG_FORMAT: 'xml' })).toThrow(
      /EDGENAS_LOG_FORMAT must be json or pretty/,
    );
    expect(agentConfig({ PORT: '3100' }).apiUrl).toBe('http://localhost:3100');
  });

  it('reads what is set', () => {
    const c = apiConfig({
      PORT: '8080',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      EDGENAS_API_KEYS: ' a, b ,',
      EDGENAS_CALIBRATION_REFRESH_MINUTES: '5',
      EDGENAS_RATE_LIMIT_PER_MINUTE: '30',
    });
    expect(c.port).toBe(8080);
    expect(c.rateLimitPerMinute).toBe(30);
    expect(c.temporal).toEqual({
      address: 'temporal.internal:7233',
      namespace: 'default',
      addressGiven: true,
    });
    expect(c.apiKeys).toEqual(['a', 'b']);
    expect(c.calibrationRefreshMinutes).toBe(5);
    expect(agentConfig({ EDGENAS_AGENT_CLOCK: 'cpu' }).clock).toBe('cpu');
    expect(agentConfig({ EDGENAS_AGENT_PRECISION: 'int8' }).precision).toBe('int8');
    expect(agentConfig({}).precision).toBeUndefined();
  });

  it('stops on invalid values, naming each variable', () => {
    expect(messageOf(() => apiConfig({ TEMPORAL_ADDRESS: '' }))).toMatch(
      /TEMPORAL_ADDRESS must not be empty/,
    );
    expect(messageOf(() => workerConfig({ TEMPORAL_ADDRESS: '  ' }))).toMatch(
      /TEMPORAL_ADDRESS must not be empty/,
    );
    expect(messageOf(() => launcherConfig({ TEMPORAL_ADDRESS: '' }))).toMatch(/TEMPORAL_ADDRESS/);
    expect(messageOf(() => apiConfig({ TEMPORAL_ADDRESS: 'localhost' }))).toMatch(
      /TEMPORAL_ADDRESS must be host:port/,
    );
    expect(messageOf(() => apiConfig({ PORT: '70000' }))).toMatch(/PORT must be a TCP port/);
    expect(messageOf(() => apiConfig({ PORT: 'x', EDGENAS_CALIBRATION_REFRESH_MINUTES: '-1' }))).toMatch(
      /PORT must be a TCP port.*EDGENAS_CALIBRATION_REFRESH_MINUTES must be a positive number/,
    );
    for (const bad of ['0', '-5', '2.5', 'many']) {
      expect(messageOf(() => apiConfig({ EDGENAS_RATE_LIMIT_PER_MINUTE: bad }))).toMatch(
        /EDGENAS_RATE_LIMIT_PER_MINUTE must be a positive integer/,
      );
    }
    expect(messageOf(() => agentConfig({ EDGENAS_AGENT_CLOCK: 'gpu' }))).toMatch(
      /EDGENAS_AGENT_CLOCK must be wall or cpu/,
    );
    expect(messageOf(() => agentConfig({ EDGENAS_AGENT_PRECISION: 'int4' }))).toMatch(
      /EDGENAS_AGENT_PRECISION must be fp32 or int8/,
    );
    expect(messageOf(() => agentConfig({ EDGENAS_API_URL: 'ftp://x' }))).toMatch(
      /EDGENAS_API_URL must be an http/,
    );
    expect(messageOf(() => workerConfig({ EDGENAS_DATA_DIR: '' }))).toMatch(
      /EDGENAS_DATA_DIR must not be empty/,
    );
  });

  it('takes the dataset roots from EDGENAS_DATASETS_DIR, else <dataDir>/datasets', () => {
    expect(workerConfig({ EDGENAS_DATA_DIR: '/srv/edgenas' }).datasetsDirs).toEqual([
      '/srv/edgenas/datasets',
    ]);
    expect(apiConfig({ EDGENAS_DATASETS_DIR: '/data/a:/data/b' }).datasetsDirs).toEqual([
      '/data/a',
      '/data/b',
    ]);
    expect(workerConfig({ EDGENAS_DATASETS_DIR: 'rel' }).datasetsDirs).toEqual(['rel']);
    expect(messageOf(() => apiConfig({ EDGENAS_DATASETS_DIR: '/data/a::/data/b' }))).toMatch(
      /EDGENAS_DATASETS_DIR must list folders separated by ":", none blank/,
    );
    expect(messageOf(() => workerConfig({ EDGENAS_DATASETS_DIR: ' ' }))).toMatch(
      /EDGENAS_DATASETS_DIR must not be empty/,
    );
  });

  it('reads only the variables an app uses', () => {
    expect(() => agentConfig({ TEMPORAL_ADDRESS: '' })).not.toThrow();
  });
});
