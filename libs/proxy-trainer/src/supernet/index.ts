// The weight-sharing supernet: bank, path sampling, training with checkpoints, scoring with inherited weights.
export { WeightBank, SupernetError } from './weight-bank';
export type { BankEntry, ParamMapping, PathView } from './weight-bank';
export { pathsForStep, widestPath } from './sampling';
export type { SampledPath, SupernetSampling } from './sampling';
export {
  SUPERNET_TRAINER_VERSION,
  SupernetFileError,
  checkSupernetFile,
  digestPath,
  readSupernetFile,
  supernetKey,
  writeSupernetFile,
} from './artifact';
export type { SupernetFile, SupernetFileHeader } from './artifact';
export { trainSupernet, supernetConfig } from './train-supernet';
export type {
  SupernetCheckpoint,
  SupernetTrainingProgress,
  SupernetTrainingRequest,
  SupernetTrainingResult,
  TrainSupernetOptions,
} from './train-supernet';
export { scoreSubnets, scoreWithBank, scoringImages } from './score-subnets';
export type {
  ScoreSubnetsOptions,
  ScoringImages,
  SubnetScore,
  SubnetScoringRequest,
  SubnetScoringResult,
} from './score-subnets';
