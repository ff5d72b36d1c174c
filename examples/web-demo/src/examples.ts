/** The example models bundled with the demo (copied from the repo's examples/models at build time). */
export interface Example {
  readonly id: string;
  readonly label: string;
  readonly model: string; // file under models/
  readonly property?: string; // VNN-LIB file under models/: its box becomes the default
  readonly box?: readonly (readonly [number, number])[];
  readonly objective: string;
}

export const EXAMPLES: readonly Example[] = [
  // the box of the TLL problem in shared/maximize/problems.json
  { id: 'tll_2d', label: 'TLL net, 2 inputs (tll_2d.onnx)', model: 'tll_2d.onnx', box: [[-2, 2], [-2, 2]], objective: 'y0' },
  { id: 'acasxu', label: 'ACAS Xu N1,1 with property 1 (acasxu_1_1.onnx)', model: 'acasxu_1_1.onnx', property: 'acasxu_prop_1.vnnlib', objective: 'y0' },
  { id: 'test_small', label: 'Tiny ReLU net, 1 input (test_small.onnx)', model: 'test_small.onnx', box: [[-1, 1]], objective: 'y0' },
];

export const MODELS_BASE = new URL('models/', document.baseURI);
