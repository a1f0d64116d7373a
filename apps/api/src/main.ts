import { apiConfig } from '@edgenas/config';
import { calibrationPolicyFromMinutes } from '@edgenas/latency-predictor';
import { DEFAULT_DATABASE_URL } from '@edgenas/storage';
import { createApiApp } from './app';
import { generateApiKey } from './auth/auth';

/**
 * API process: PORT, DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, EDGENAS_API_KEYS,
 * EDGENAS_CALIBRATION_REFRESH_MINUTES, EDGENAS_RATE_LIMIT_PER_MINUTE, EDGENAS_DATA_DIR, EDGENAS_DATASETS_DIR, EDGENAS_LOG_LEVEL (pino level,
 * default info) and EDGENAS_LOG_FORMAT
 * (`json`, the default, or `pretty`) from the environment.
 */
async function main(): Promise<void> {
  const config = apiConfig(process.env);
  const port = config.port;
  const calibrationPolicy = calibrationPolicyFromMinutes(config.calibrationRefreshMinutes);
  let apiKeys = [...config.apiKeys];
  let generated = false;
  if (apiKeys.length === 0) {
    apiKeys = [generateApiKey()];
    generated = true;
  }
  const app = await createApiApp({
    databaseUrl: config.databaseUrl ?? DEFAULT_DATABASE_URL,
    apiKeys,
    temporal: { address: config.temporal.address, namespace: config.temporal.namespace },
    calibrationPolicy,
    dataDir: config.dataDir,
    datasetsDirs: config.datasetsDirs,
    rateLimit: { limit: config.rateLimitPerMinute, windowMs: 60_000 },
    logging: {
      level: config.log.level,
      pretty: config.log.format === 'pretty',
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

main().catch((err: unknown) => {
  process.stderr.write(`edgenas api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
