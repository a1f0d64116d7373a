import { DatabaseUnavailableError, databaseFault } from './faults';

const withCode = (code: string, message = 'driver text') => Object.assign(new Error(message), { code });

describe('databaseFault', () => {
  it('names SQLite faults of the disk or file, extended codes included', () => {
    expect(databaseFault(withCode('SQLITE_FULL'))).toEqual({
      kind: 'disk-full',
      reason: 'the disk holding the database is full',
    });
    expect(databaseFault(withCode('SQLITE_READONLY_DBMOVED'))?.kind).toBe('read-only');
    expect(databaseFault(withCode('SQLITE_IOERR_WRITE'))?.kind).toBe('io-error');
    expect(databaseFault(withCode('SQLITE_BUSY'))?.kind).toBe('busy');
    expect(databaseFault(withCode('SQLITE_CORRUPT'))?.kind).toBe('damaged');
  });

  it('names PostgreSQL and socket faults, looking through causes', () => {
    expect(databaseFault(withCode('53100'))?.kind).toBe('disk-full');
    expect(databaseFault(withCode('25006'))?.kind).toBe('read-only');
    expect(databaseFault(new Error('wrapped', { cause: withCode('57P01') }))?.kind).toBe('unreachable');
  });

  it('leaves query faults and other errors alone', () => {
    expect(databaseFault(withCode('SQLITE_CONSTRAINT_PRIMARYKEY'))).toBeUndefined();
    expect(databaseFault(withCode('SQLITE_ERROR'))).toBeUndefined();
    expect(databaseFault(withCode('23505'))).toBeUndefined();
    // socket errors may come from Temporal as well: not the database's to claim
    expect(databaseFault(withCode('ECONNREFUSED'))).toBeUndefined();
    expect(databaseFault(new TypeError('x is undefined'))).toBeUndefined();
    expect(databaseFault(undefined)).toBeUndefined();
  });

  it("knows storage's own checks; their detail stays out of the reason", () => {
    const err = new DatabaseUnavailableError(
      'disk-full',
      '12 bytes free on the disk holding /data/edgenas.db',
    );
    expect(databaseFault(err)).toEqual({
      kind: 'disk-full',
      reason: 'the disk holding the database is full',
    });
    expect(err.message).toMatch(/12 bytes free/);
  });
});
