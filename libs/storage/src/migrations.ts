import { CreateTableBuilder, Kysely, Migration, MigrationResultSet, Migrator } from 'kysely';

export type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Schema migrations, in code so the compiled app needs no migration folder. Written once for both dialects:
 * only portable column types (text, integer, double precision) plus the dialect's binary type.
 */
export function buildMigrations(dialect: SqlDialectName): Record<string, Migration> {
  const binary = dialect === 'postgres' ? 'bytea' : 'blob';
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('devices')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('profile_json', 'text', (c) => c.notNull())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await provenance(
          stats(
            db.schema
              .createTable('block_measurements')
              .addColumn('id', 'text', (c) => c.primaryKey())
              .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
              .addColumn('signature_key', 'text', (c) => c.notNull())
              .addColumn('op', 'text', (c) => c.notNull())
              .addColumn('kernel', 'integer', (c) => c.notNull())
              .addColumn('expansion', 'integer', (c) => c.notNull())
              .addColumn('conv_groups', 'integer', (c) => c.notNull())
              .addColumn('stride', 'integer', (c) => c.notNull())
              .addColumn('cin', 'integer', (c) => c.notNull())
              .addColumn('cout', 'integer', (c) => c.notNull())
              .addColumn('height', 'integer', (c) => c.notNull())
              .addColumn('width', 'integer', (c) => c.notNull())
              .addColumn('activation', 'text', (c) => c.notNull())
              .addColumn('classes', 'integer', (c) => c.notNull()),
          ).addColumn('overhead_ms', 'double precision', (c) => c.notNull()),
        ).execute();
        await db.schema
          .createIndex('block_measurements_device_signature')
          .on('block_measurements')
          .columns(['device_id', 'signature_key'])
          .execute();

        await provenance(
          stats(
            db.schema
              .createTable('architecture_measurements')
              .addColumn('id', 'text', (c) => c.primaryKey())
              .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
              .addColumn('space', 'text', (c) => c.notNull())
              .addColumn('architecture', 'text', (c) => c.notNull())
              .addColumn('verification_id', 'text'),
          ),
        ).execute();
        await db.schema
          .createIndex('architecture_measurements_device_space')
          .on('architecture_measurements')
          .columns(['device_id', 'space'])
          .execute();

        await db.schema
          .createTable('jobs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('input_json', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('result_json', 'text')
          .addColumn('error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('verification_requests')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
          .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
          .addColumn('space', 'text', (c) => c.notNull())
          .addColumn('architecture', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('measurement_id', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('completed_at', 'text')
          .execute();
        await db.schema
          .createIndex('verification_requests_device_status')
          .on('verification_requests')
          .columns(['device_id', 'status'])
          .execute();

        await db.schema
          .createTable('candidates')
          .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
          .addColumn('architecture_id', 'text', (c) => c.notNull())
          .addColumn('architecture', 'text', (c) => c.notNull())
          .addColumn('generation', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('accuracy', 'double precision')
          .addColumn('predicted_latency_ms', 'double precision')
          .addColumn('predicted_json', 'text')
          .addColumn('measured_json', 'text')
          .addColumn('macs', 'double precision')
          .addColumn('params', 'double precision')
          .addColumn('training_json', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('candidates_pk', ['job_id', 'architecture_id'])
          .execute();

        await db.schema
          .createTable('models')
          .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
          .addColumn('architecture_id', 'text', (c) => c.notNull())
          .addColumn('onnx', binary, (c) => c.notNull())
          .addColumn('note', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('models_pk', ['job_id', 'architecture_id'])
          .execute();
      },
    },
    // Stand-alone retrainings of a supernet job's finalists and of the hand-designed baselines, one row per
    // (architecture, seed, purpose). Candidates gain the status 'scored' (text column: no schema change).
    '0002_standalone_trainings': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('standalone_trainings')
          .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
          .addColumn('architecture_id', 'text', (c) => c.notNull())
          .addColumn('architecture', 'text', (c) => c.notNull())
          .addColumn('seed', 'integer', (c) => c.notNull())
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('baseline', 'text')
          .addColumn('accuracy', 'double precision', (c) => c.notNull())
          .addColumn('training_json', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('standalone_trainings_pk', [
            'job_id',
            'architecture_id',
            'seed',
            'purpose',
          ])
          .execute();
      },
    },
    // Why a whole network was measured (calibration set, drift reference); null for verifications.
    '0003_architecture_measurement_purpose': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('architecture_measurements').addColumn('purpose', 'text').execute();
      },
    },
    // Who registered a device (a digest of the user API key); its name is unique per owner. Devices from
    // before have no owner (null), so the index leaves them alone (nulls are distinct in both dialects).
    '0004_device_owner': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('devices').addColumn('owner', 'text').execute();
        await db.schema
          .createIndex('devices_owner_name')
          .on('devices')
          .columns(['owner', 'name'])
          .unique()
          .execute();
      },
    },
    // Supernets in the database, so workers on other machines reuse, score with and resume them.
    '0005_supernet_files': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('supernet_files')
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('step', 'integer', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('bytes', binary, (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('supernet_files_pk', ['key', 'kind'])
          .execute();
        await db.schema
          .createTable('supernet_claims')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // Deployable models: final training of a job's architecture, its float and INT8 ONNX files and card.
    '0006_final_models': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('final_models')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
          .addColumn('architecture_id', 'text', (c) => c.notNull())
          .addColumn('architecture', 'text', (c) => c.notNull())
          .addColumn('request_json', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('progress_json', 'text')
          .addColumn('training_json', 'text')
          .addColumn('card_json', 'text')
          .addColumn('error', 'text')
          .addColumn('float_onnx', binary)
          .addColumn('int8_onnx', binary)
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('final_models_job').on('final_models').column('job_id').execute();
      },
    },
    // User API keys kept in the database (beside EDGENAS_API_KEYS), revocable without a restart.
    '0007_api_keys': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('last_used_at', 'text')
          .execute();
        await db.schema.createIndex('api_keys_owner').on('api_keys').column('owner').execute();
      },
    },
    // Final models' files measured on devices: a verification request may name a final model and one of its files
    // ('float' | 'int8'), and the measurement that answers it says which file it measured. Null: an architecture.
    '0008_final_model_verifications': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('verification_requests').addColumn('final_model_id', 'text').execute();
        await db.schema.alterTable('verification_requests').addColumn('model_file', 'text').execute();
        await db.schema.alterTable('architecture_measurements').addColumn('model_file', 'text').execute();
      },
    },
    // The latest checkpoint of a long training outside the supernets (final models, distillation teachers), so a
    // worker on another machine resumes it instead of starting again.
    '0009_training_checkpoints': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('training_checkpoints')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('step', 'integer', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('bytes', binary, (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // A device profile's precision (fp32 or int8) is part of its identity; devices registered before are fp32.
    '0010_device_precision': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .alterTable('devices')
          .addColumn('precision', 'text', (c) => c.notNull().defaultTo('fp32'))
          .execute();
      },
    },
  };
}

/** The latency statistics every measurement row carries (see LatencyStats). */
function stats<TB extends string, C extends string>(t: CreateTableBuilder<TB, C>) {
  return t
    .addColumn('estimate_ms', 'double precision', (c) => c.notNull())
    .addColumn('median_ms', 'double precision', (c) => c.notNull())
    .addColumn('p10_ms', 'double precision', (c) => c.notNull())
    .addColumn('p90_ms', 'double precision', (c) => c.notNull())
    .addColumn('rounds', 'integer', (c) => c.notNull())
    .addColumn('repeats_per_round', 'integer', (c) => c.notNull())
    .addColumn('warmup_runs', 'integer', (c) => c.notNull());
}

/** Where every measurement row came from: agent, time measured and received, drift flag. */
function provenance<TB extends string, C extends string>(t: CreateTableBuilder<TB, C>) {
  return t
    .addColumn('agent_version', 'text', (c) => c.notNull())
    .addColumn('measured_at', 'text', (c) => c.notNull())
    .addColumn('drift_flagged', 'integer', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull());
}

/** Brings the schema to the latest migration; throws with the failing migration's name. */
export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: SqlDialectName,
): Promise<MigrationResultSet> {
  const migrations = buildMigrations(dialect);
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = result.error instanceof Error ? result.error.message : String(result.error);
    throw new Error(`database migration ${failed} failed: ${reason}`);
  }
  return result;
}
