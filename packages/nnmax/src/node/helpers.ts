import type { BabDomain, BounderInit, BoundingHelper, BoundOutcome, PruneState, RegionAscentResult } from '@nnmax/bounds';
import { InternalError } from '@nnmax/core';
import type { IrGraph } from '@nnmax/onnx';
import type { WalkHelper, WalkInit } from '../region-walk.js';
import { connectHelperThread, sendGraphToSpare } from './helper-thread.js';

/** A helper's handle: the `BoundingHelper` interface, and the worker thread it runs on. */
export interface ThreadBoundingHelper extends BoundingHelper {
  readonly threadId: number;
}

/**
 * A branch-and-bound helper on a worker thread: it holds its own `DomainBounder` for the graph and
 * spec of `init`, becomes ready once built, and bounds the batches it is given. Branch-and-bound
 * closes it when it returns. A helper that fails to start is never ready (branch-and-bound then
 * runs on one thread); one that fails while bounding rejects the request, and branch-and-bound
 * stops with that error.
 */
export function startBoundingHelper(init: BounderInit): ThreadBoundingHelper {
  const thread = connectHelperThread(() => ({ type: 'init', init }), 'bounding helper');
  return {
    threadId: thread.threadId,
    get isReady() {
      return thread.isReady;
    },
    async bound(domains: BabDomain[], prune: PruneState): Promise<BoundOutcome> {
      const out = (await thread.request({ type: 'bound', domains, prune })) as BoundOutcome | undefined;
      if (out === undefined) throw new InternalError('bounding helper thread: empty reply');
      return out;
    },
    close: () => thread.close(),
  };
}

/** A walk helper's handle, and the worker thread it runs on. */
export interface ThreadWalkHelper extends WalkHelper {
  readonly threadId: number;
  /** Its set-up sent the graph (the thread did not hold it: see prestoreWalkGraph). */
  readonly sentGraph: boolean;
}

/** Ids of the graphs sent to helper threads (a thread keeps the last one it was sent). */
const graphIds = new WeakMap<object, number>();
let nextGraphId = 0;

function graphIdOf(graph: IrGraph): number {
  let graphId = graphIds.get(graph);
  if (graphId === undefined) graphIds.set(graph, (graphId = nextGraphId++));
  return graphId;
}

/** Sends the graph of a loaded model to the spare helper thread ahead of its first walk helper (see sendGraphToSpare). */
export function prestoreWalkGraph(graph: IrGraph): void {
  sendGraphToSpare(graphIdOf(graph), graph);
}

/**
 * Region walks (RegionAscent of @nnmax/bounds) on a worker thread, for the search portfolio: the
 * thread holds its own RegionAscent for the graph, spec and box of `init`, and walks from the
 * start points it is sent while the calling thread runs the other searches. The graph crosses to
 * the thread only when it does not hold it yet: a search on ACAS Xu often takes under 10 ms, and
 * cloning and rebuilding its graph on the thread took 2-8 ms.
 */
export function startWalkHelper(init: WalkInit): ThreadWalkHelper {
  const graphId = graphIdOf(init.graph);
  const { spec, box } = init;
  let sentGraph = false;
  const thread = connectHelperThread((held) => {
    sentGraph = held !== graphId;
    return sentGraph ? { type: 'walkInit', graphId, graph: init.graph, spec, box } : { type: 'walkInit', graphId, spec, box };
  }, 'walk helper');
  return {
    threadId: thread.threadId,
    sentGraph,
    get isReady() {
      return thread.isReady;
    },
    async walk(start: Float64Array, maxRegions: number, ms: number): Promise<RegionAscentResult> {
      const out = (await thread.request({ type: 'walk', start, maxRegions, ms })) as RegionAscentResult | undefined;
      if (out === undefined) throw new InternalError('walk helper thread: empty reply');
      return out;
    },
    close: () => thread.close(),
  };
}
