export {
  NnmaxError,
  OnnxDecodeError,
  UnsupportedOpError,
  ShapeError,
  InvalidOptionError,
  VnnlibParseError,
  RuntimeAdapterError,
  OptimizerProtocolError,
  InternalError,
  invariant,
} from './errors.js';
export type { UnsupportedNode } from './errors.js';
export { Rng } from './rng.js';
export { makeBox, clampToBox, isInBox, boxCenter } from './box.js';
export type { Box } from './box.js';
export { nextUp, nextDown, dotErrorFactor } from './rounding.js';
