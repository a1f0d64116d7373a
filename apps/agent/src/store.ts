import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchitectureUpload } from '@edgenas/contracts';
import { BlockMeasurement, DeviceProfile } from '@edgenas/latency-predictor';
import { signatureKey } from '@edgenas/search-space';

export type QueuedMeasurement =
  | { readonly kind: 'block'; readonly body: BlockMeasurement }
  | { readonly kind: 'architecture'; readonly body: ArchitectureUpload };

/** The device this agent registered as, with the API that knows it. */
export interface RegisteredDevice {
  readonly id: string;
  readonly token: string;
  readonly apiUrl: string;
  readonly name: string;
  readonly profile: DeviceProfile;
  readonly registeredAt: string;
  /** The clock `run` measures with (absent = wall); one device's rows never mix clocks. */
  readonly clock?: 'wall' | 'cpu';
}

export interface QueueCounts {
  readonly pending: number;
  readonly synced: number;
  /** Refused by the server as invalid (4xx); kept for inspection, never retried. */
  readonly rejected: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS device (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS measurements (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('block', 'architecture')),
  signature_key TEXT,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  synced_at TEXT,
  rejected_at TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS measurements_pending ON measurements (synced_at, rejected_at, created_at);
`;

/**
 * The agent's local state (a SQLite file in its state directory): the registered device and every
 * measurement, written here first and synced later, so a lost connection loses nothing and a retried upload
 * re-sends the same ids (the server deduplicates by id).
 */
export class AgentStore {
  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {}

  static open(stateDir: string): AgentStore {
    fs.mkdirSync(stateDir, { recursive: true });
    const file = path.join(stateDir, 'agent.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    return new AgentStore(db, file);
  }

  close(): void {
    this.db.close();
  }

  device(): RegisteredDevice | undefined {
    const row = this.db.prepare('SELECT body FROM device WHERE singleton = 1').get() as
      { body: string } | undefined;
    return row ? (JSON.parse(row.body) as RegisteredDevice) : undefined;
  }

  saveDevice(device: RegisteredDevice): void {
    this.db
      .prepare(
        'INSERT INTO device (singleton, body) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET body = excluded.body',
      )
      .run(JSON.stringify(device));
  }

  /** Queues measurements; an id already present is ignored. Returns how many were new. */
  add(measurements: readonly QueuedMeasurement[]): number {
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO measurements (id, kind, signature_key, body, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    const now = new Date().toISOString();
    const tx = this.db.transaction((items: readonly QueuedMeasurement[]) => {
      let added = 0;
      for (const m of items) {
        const key = m.kind === 'block' ? signatureKey(m.body.signature) : null;
        added += insert.run(m.body.id, m.kind, key, JSON.stringify(m.body), now).changes;
      }
      return added;
    });
    return tx(measurements);
  }

  /** Oldest unsynced, unrejected measurements first. */
  pending(limit: number): QueuedMeasurement[] {
    const rows = this.db
      .prepare(
        'SELECT kind, body FROM measurements WHERE synced_at IS NULL AND rejected_at IS NULL ORDER BY created_at, rowid LIMIT ?',
      )
      .all(limit) as { kind: 'block' | 'architecture'; body: string }[];
    return rows.map((r) => ({ kind: r.kind, body: JSON.parse(r.body) }) as QueuedMeasurement);
  }

  markSynced(ids: readonly string[]): void {
    this.updateMany(
      ids,
      'UPDATE measurements SET synced_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?',
      [new Date().toISOString()],
    );
  }

  markRejected(ids: readonly string[], reason: string): void {
    this.updateMany(
      ids,
      'UPDATE measurements SET rejected_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?',
      [new Date().toISOString(), reason],
    );
  }

  markAttemptFailed(ids: readonly string[], reason: string): void {
    this.updateMany(ids, 'UPDATE measurements SET attempts = attempts + 1, last_error = ? WHERE id = ?', [
      reason,
    ]);
  }

  counts(): QueueCounts {
    const row = this.db
      .prepare(
        `SELECT
           SUM(CASE WHEN synced_at IS NULL AND rejected_at IS NULL THEN 1 ELSE 0 END) AS pending,
           SUM(CASE WHEN synced_at IS NOT NULL THEN 1 ELSE 0 END) AS synced,
           SUM(CASE WHEN rejected_at IS NOT NULL THEN 1 ELSE 0 END) AS rejected
         FROM measurements`,
      )
      .get() as { pending: number | null; synced: number | null; rejected: number | null };
    return { pending: row.pending ?? 0, synced: row.synced ?? 0, rejected: row.rejected ?? 0 };
  }

  /** Signature keys with a block measurement here (synced or waiting), so work is not measured twice. */
  measuredSignatureKeys(): Set<string> {
    const rows = this.db
      .prepare("SELECT DISTINCT signature_key FROM measurements WHERE kind = 'block' AND rejected_at IS NULL")
      .all() as { signature_key: string }[];
    return new Set(rows.map((r) => r.signature_key));
  }

  /** Verification requests already answered here (synced or waiting). */
  answeredVerificationIds(): Set<string> {
    const rows = this.db
      .prepare(
        "SELECT json_extract(body, '$.verificationId') AS v FROM measurements WHERE kind = 'architecture'",
      )
      .all() as { v: string | null }[];
    return new Set(rows.flatMap((r) => (r.v ? [r.v] : [])));
  }

  lastError(): string | undefined {
    const row = this.db
      .prepare('SELECT last_error FROM measurements WHERE last_error IS NOT NULL ORDER BY rowid DESC LIMIT 1')
      .get() as { last_error: string } | undefined;
    return row?.last_error;
  }

  private updateMany(ids: readonly string[], sql: string, leading: readonly (string | number)[]): void {
    const stmt = this.db.prepare(sql);
    this.db.transaction(() => {
      for (const id of ids) stmt.run(...leading, id);
    })();
  }
}
