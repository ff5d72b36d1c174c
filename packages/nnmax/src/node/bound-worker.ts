import { parentPort } from 'node:worker_threads';
import { DomainBounder, releaseScratch, type BabDomain, type BounderInit, type PruneState } from '@nnmax/bounds';

/** Requests from `bounding-helper.ts`; every reply carries the request's id, and `out` or `error`. */
export type BoundWorkerRequest =
  | { readonly id: number; readonly type: 'init'; readonly init: BounderInit }
  | { readonly id: number; readonly type: 'bound'; readonly domains: BabDomain[]; readonly prune: PruneState }
  | { readonly id: number; readonly type: 'reset' };

/** The worker thread's side: one `DomainBounder` at a time, answering batches of domains; 'reset' (no reply) drops it while the thread waits for its next helper. */
let bounder: DomainBounder | undefined;
const port = parentPort;
if (port === null) throw new Error('bound-worker.ts runs as a worker thread only');
port.on('message', (msg: BoundWorkerRequest) => {
  try {
    if (msg.type === 'reset') {
      bounder = undefined;
      releaseScratch();
    } else if (msg.type === 'init') {
      bounder = new DomainBounder(msg.init.graph, msg.init.spec, msg.init.settings);
      port.postMessage({ id: msg.id });
    } else {
      if (bounder === undefined) throw new Error('bound request before init');
      port.postMessage({ id: msg.id, out: bounder.bound(msg.domains, msg.prune) });
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    port.postMessage({ id: msg.id, error: { name: err.name, message: err.message } });
  }
});
