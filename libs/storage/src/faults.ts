/**
 * Faults of the database itself (its disk, its file, its server), told apart from faults of a query: a caller can
 * answer "the database is unavailable, retry later" for the first kind and name what is wrong without showing
 * driver messages, paths or SQL.
 */
export type DatabaseFaultKind = 'disk-full' | 'read-only' | 'io-error' | 'busy' | 'damaged' | 'unreachable';

/** What each kind means to a user of the service (no paths, no driver text). */
const REASONS: Record<DatabaseFaultKind, string> = {
  'disk-full': 'the disk holding the database is full',
  'read-only': 'the database is read-only',
  'io-error': 'the database cannot read or write its storage (I/O error)',
  busy: 'the database is busy',
  damaged: 'the database file is damaged',
  unreachable: 'the database does not answer',
};

export interface DatabaseFault {
  readonly kind: DatabaseFaultKind;
  /** For users: what is wrong, without internals. */
  readonly reason: string;
}

/** Thrown by storage's own checks (e.g. the free-space probe); `detail` is for logs only. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  readonly reason: string;
  constructor(
    readonly kind: DatabaseFaultKind,
    readonly detail: string,
  ) {
    super(`${REASONS[kind]}: ${detail}`);
    this.reason = REASONS[kind];
  }
}

// SQLite result codes (better-sqlite3 puts them in `code`, extended codes included, e.g. SQLITE_IOERR_WRITE).
const SQLITE_KINDS: readonly (readonly [RegExp, DatabaseFaultKind])[] = [
  [/^SQLITE_FULL$/, 'disk-full'],
  [/^SQLITE_READONLY/, 'read-only'],
  [/^SQLITE_IOERR/, 'io-error'],
  [/^SQLITE_CANTOPEN/, 'io-error'],
  [/^SQLITE_(BUSY|LOCKED)/, 'busy'],
  [/^SQLITE_(CORRUPT|NOTADB)/, 'damaged'],
];

// PostgreSQL SQLSTATEs. Socket errors (ECONNREFUSED, …) are left out: other services (Temporal) raise them too.
const PG_KINDS: Readonly<Record<string, DatabaseFaultKind>> = {
  '53100': 'disk-full',
  '25006': 'read-only',
  '58030': 'io-error',
  '53300': 'busy',
  '57P01': 'unreachable',
  '57P03': 'unreachable',
  XX001: 'damaged',
};

/** The database fault behind `err` (looking through `cause`), or undefined for any other error. */
export function databaseFault(err: unknown): DatabaseFault | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (e instanceof DatabaseUnavailableError) return { kind: e.kind, reason: e.reason };
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      const kind = SQLITE_KINDS.find(([pattern]) => pattern.test(code))?.[1] ?? PG_KINDS[code];
      if (kind) return { kind, reason: REASONS[kind] };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
