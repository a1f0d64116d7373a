/** Nest injection tokens for what `createApiApp` hands in. */
export const REPOSITORIES = Symbol('Repositories');
export const API_KEYS = Symbol('ApiKeys');
export const JOB_WORKFLOWS = Symbol('JobWorkflows');
export const CALIBRATION_POLICY = Symbol('CalibrationPolicy');
