export * from '../common.js';
export { loadModel, readModelFile } from './load-model.js';
