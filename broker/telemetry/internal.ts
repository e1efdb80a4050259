/**
 * For test/ and bench/ only: broker/telemetry/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { Sampling, type SamplingPolicy, samplingPolicyFromEnv, sdkSamplerOf, TraceIds } from './sampling.js';
export { tracingRequested } from './telemetry.js';
