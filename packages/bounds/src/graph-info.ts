import { isActivation, type IrGraph, type NodeId } from '@nnmax/onnx';
import { errorFactor } from './soundness.js';

/** Facts about a graph that every bound computation needs; computed once per graph. */
export interface GraphInfo {
  readonly graph: IrGraph;
  /** Consumers of each node. */
  readonly consumers: readonly (readonly NodeId[])[];
  /** ancestors[id][k] === 1 when node k is node id itself or one of its ancestors. */
  readonly ancestors: readonly Uint8Array[];
  /** Activation nodes consuming each node (empty for nodes that feed no activation). */
  readonly activationConsumers: readonly (readonly NodeId[])[];
  /** See `errorFactor` in soundness.ts. */
  readonly errorFactor: number;
}

export function analyseGraph(graph: IrGraph): GraphInfo {
  const n = graph.nodes.length;
  const consumers: NodeId[][] = Array.from({ length: n }, () => []);
  const activationConsumers: NodeId[][] = Array.from({ length: n }, () => []);
  const ancestors: Uint8Array[] = [];
  for (const node of graph.nodes) {
    const anc = new Uint8Array(n);
    anc[node.id] = 1;
    for (const i of node.inputs) {
      consumers[i].push(node.id);
      if (isActivation(node)) activationConsumers[i].push(node.id);
      const a = ancestors[i];
      for (let k = 0; k < n; k++) anc[k] |= a[k];
    }
    ancestors.push(anc);
  }
  return { graph, consumers, ancestors, activationConsumers, errorFactor: errorFactor(graph) };
}
