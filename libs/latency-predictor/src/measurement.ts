// The measurement rows are wire types and live in contracts; re-exported here for the predictor's users.
export type {
  ArchitectureMeasurement,
  ArchitectureMeasurementPurpose,
  ArchitectureRow,
  BlockMeasurement,
  DeviceRows,
  DeviceProfile,
  LatencyStats,
} from '@edgenas/contracts';
