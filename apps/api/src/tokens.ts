/** Nest injection tokens for what `createApiApp` hands in. */
export const REPOSITORIES = Symbol('Repositories');
export const API_KEYS = Symbol('ApiKeys');
export const JOB_WORKFLOWS = Symbol('JobWorkflows');
export const CALIBRATION_POLICY = Symbol('CalibrationPolicy');
/** Absolute dataset roots (`readonly string[]`): image folders lie under them; uploads go to the first. */
export const DATASET_ROOTS = Symbol('DatasetRoots');
