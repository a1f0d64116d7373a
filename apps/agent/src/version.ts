/** Recorded with every measurement, so rows from a changed benchmark method can be told apart. */
export const AGENT_VERSION = 'edgenas-agent/0.1.0';
