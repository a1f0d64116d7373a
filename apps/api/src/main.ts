import { CALIBRATION_REFRESH_SETTING, calibrationPolicyFromSetting } from '@edgenas/latency-predictor';
import { DEFAULT_DATABASE_URL } from '@edgenas/storage';
import { Level } from 'pino';
import { createApiApp } from './app';
import { generateApiKey } from './auth/auth';

/**
 * API process: PORT, DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, EDGENAS_API_KEYS,
 * EDGENAS_CALIBRATION_REFRESH_MINUTES, EDGENAS_LOG_LEVEL (pino level, default info) and EDGENAS_LOG_FORMAT
 * (`json`, the default, or `pretty`) from the environment.
 */
async function main(): Promise<void> {
  const env = process.env;
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`PORT must be 1..65535, got "${env.PORT}"`);
  const calibrationPolicy = calibrationPolicyFromSetting(env[CALIBRATION_REFRESH_SETTING]);
  let apiKeys = (env.EDGENAS_API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  let generated = false;
  if (apiKeys.length === 0) {
    apiKeys = [generateApiKey()];
    generated = true;
  }
  const app = await createApiApp({
    databaseUrl: env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    apiKeys,
    temporal: {
      address: env.TEMPORAL_ADDRESS ?? 'localhost:7233',
      namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    },
    calibrationPolicy,
    logging: {
      level: logLevel(env.EDGENAS_LOG_LEVEL),
      pretty: logFormat(env.EDGENAS_LOG_FORMAT) === 'pretty',
    },
  });
  app.enableShutdownHooks();
  await app.listen(port);
  const url = `http://localhost:${port}`;
  process.stdout.write(`EdgeNAS API listening on ${url}/v1 (OpenAPI: ${url}/docs)\n`);
  if (generated) {
    // Printed plainly (not through the logger) so it can be copied; it changes on every start.
    process.stdout.write(
      `\n  EDGENAS_API_KEYS was not set; generated a user API key for this run:\n\n` +
        `      ${apiKeys[0]}\n\n  Use it as: Authorization: Bearer ${apiKeys[0]}\n` +
        `  Set EDGENAS_API_KEYS to keep a key across restarts.\n\n`,
    );
  }
}

function logLevel(value: string | undefined): Level {
  const levels: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
  if (value === undefined || value === '') return 'info';
  if (!(levels as readonly string[]).includes(value))
    throw new Error(`EDGENAS_LOG_LEVEL must be one of ${levels.join(', ')}, got "${value}"`);
  return value as Level;
}

function logFormat(value: string | undefined): 'json' | 'pretty' {
  if (value === undefined || value === '' || value === 'json') return 'json';
  if (value === 'pretty') return 'pretty';
  throw new Error(`EDGENAS_LOG_FORMAT must be json or pretty, got "${value}"`);
}

main().catch((err: unknown) => {
  process.stderr.write(`edgenas api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
