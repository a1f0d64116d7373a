import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ApiKeys {
  /** The EDGENAS_API_KEYS value the API gets. */
  readonly keys: string;
  /** The key the launcher hands to the local device agent and prints for curl. */
  readonly primary: string;
  readonly source: 'env' | 'file' | 'generated';
  /** Where a generated or reused key lives. */
  readonly file?: string;
}

export function apiKeyFile(dataDir: string): string {
  return join(dataDir, 'api-key');
}

export function generateApiKey(): string {
  return `enk_${randomBytes(24).toString('base64url')}`;
}

/**
 * EDGENAS_API_KEYS when set; else the key persisted in `<dataDir>/api-key` (so restarts keep it); else a new
 * one, written there (mode 0600).
 */
export function resolveApiKeys(envKeys: string | undefined, dataDir: string): ApiKeys {
  const listed = (envKeys ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (listed.length > 0) return { keys: listed.join(','), primary: listed[0], source: 'env' };
  const file = apiKeyFile(dataDir);
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored) return { keys: stored, primary: stored, source: 'file', file };
  }
  const key = generateApiKey();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { keys: key, primary: key, source: 'generated', file };
}
