/** The environment-independent public API, re-exported by the node and web entries. */
export { Model, openModel, graphsFor, originalGraphs } from './model.js';
export type { LoadOptions, EvaluatorFactory } from './model.js';
export { describeModel, describeLayers } from './model-info.js';
export type { ModelInfo } from './model-info.js';
export { parseObjective, outputObjective } from './objective.js';
export type { LinearObjective } from './objective.js';
export { maximize, minimize, MAXIMIZE_DEFAULTS } from './maximize.js';
export { verify } from './verify.js';
export type { VerifyOptions, VerifyResult } from './verify.js';
export { SEARCH_METHODS } from './maximize-types.js';
export type { MaximizeOptions, MaximizeResult, MaximizeStatus, ProgressEvent, SearchMethod } from './maximize-types.js';
export { parseDomain, normalizeDomain, domainFromBox, isFeasible, repairToDomain } from './domain/parse-domain.js';
export type { Domain } from './domain/parse-domain.js';
export { evaluatePoint } from './evaluate-point.js';
export type { PointEvaluation } from './evaluate-point.js';
export {
  NnmaxError,
  OnnxDecodeError,
  UnsupportedOpError,
  ShapeError,
  InvalidOptionError,
  VnnlibParseError,
  RuntimeAdapterError,
  InternalError,
} from '@nnmax/core';
export {
  parseVnnlib,
  compileMargin,
  marginValue,
  marginValues,
  marginActive,
  checkCounterexample,
  validateProperty,
  formatVnnlib,
  formatVnncompResult,
  COUNTEREXAMPLE_TOL,
} from './vnnlib/index.js';
export type { Property, PropertyCase, Disjunct, LinearConstraint, CompiledMargin, VnncompStatus } from './vnnlib/index.js';
