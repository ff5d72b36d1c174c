import { parentPort } from 'node:worker_threads';
import { DomainBounder, RegionAscent, releaseScratch, type BabDomain, type BounderInit, type PruneState } from '@nnmax/bounds';
import type { IrGraph } from '@nnmax/onnx';
import type { WalkInit } from '../region-walk.js';

/** Requests from `helper-thread.ts`; every reply carries the request's id, and `out` or `error`. */
export type HelperWorkerRequest =
  | { readonly id: number; readonly type: 'init'; readonly init: BounderInit }
  | { readonly id: number; readonly type: 'bound'; readonly domains: BabDomain[]; readonly prune: PruneState }
  | { readonly id: number; readonly type: 'walkInit'; readonly graphId: number; readonly graph?: WalkInit['graph']; readonly spec: WalkInit['spec']; readonly box: WalkInit['box'] }
  | { readonly id: number; readonly type: 'walkGraph'; readonly graphId: number; readonly graph: WalkInit['graph'] }
  | { readonly id: number; readonly type: 'walk'; readonly start: Float64Array; readonly maxRegions: number; readonly ms: number }
  | { readonly id: number; readonly type: 'reset' };

/**
 * The worker thread's side: one `DomainBounder` (branch-and-bound's batches) or one `RegionAscent`
 * (the search's walks) at a time; 'reset' (no reply) drops it while the thread waits for its next
 * helper. The graph of the last 'walkInit' (or 'walkGraph', no reply: a loaded model's graph sent
 * ahead) is kept across resets: the next walk helper on the same network sends only its id (see
 * startWalkHelper).
 */
let bounder: DomainBounder | undefined;
let walker: RegionAscent | undefined;
let walkGraph: { readonly id: number; readonly graph: IrGraph } | undefined;
const port = parentPort;
if (port === null) throw new Error('helper-worker.ts runs as a worker thread only');
port.on('message', (msg: HelperWorkerRequest) => {
  try {
    if (msg.type === 'reset') {
      bounder = undefined;
      walker = undefined;
      releaseScratch();
    } else if (msg.type === 'init') {
      bounder = new DomainBounder(msg.init.graph, msg.init.spec, msg.init.settings);
      port.postMessage({ id: msg.id });
    } else if (msg.type === 'walkGraph') {
      walkGraph = { id: msg.graphId, graph: msg.graph };
    } else if (msg.type === 'walkInit') {
      walker = undefined;
      if (msg.graph !== undefined) walkGraph = { id: msg.graphId, graph: msg.graph };
      if (walkGraph?.id !== msg.graphId) throw new Error(`walk helper: graph ${msg.graphId} was never sent to this thread`);
      walker = new RegionAscent(walkGraph.graph, msg.spec, msg.box);
      port.postMessage({ id: msg.id });
    } else if (msg.type === 'walk') {
      if (walker === undefined) throw new Error('walk request before walkInit');
      port.postMessage({ id: msg.id, out: walker.ascend(msg.start, msg.maxRegions, performance.now() + msg.ms) });
    } else {
      if (bounder === undefined) throw new Error('bound request before init');
      port.postMessage({ id: msg.id, out: bounder.bound(msg.domains, msg.prune) });
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    port.postMessage({ id: msg.id, error: { name: err.name, message: err.message } });
  }
});
