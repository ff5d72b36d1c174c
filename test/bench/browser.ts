import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, maximize, parseVnnlib, verify, type MaximizeResult } from 'nnmax/node';
import { loadAcasExample, openDemo, ROOT, runInPage, verifyInPage } from '../e2e/demo-driver.js';
import { table } from './readme-table.js';

/**
 * The same work in the browser (the demo page: onnxruntime-web wasm in a worker, headless
 * Chromium) and in Node (onnxruntime-node), alternating the two sides and keeping the best of
 * RUNS each, on the bundled ACAS Xu N1,1 with the box of property 1 (issue 5: "the browser within
 * 2x of Node").
 */
const RUNS = 3;
const MODELS = join(ROOT, 'examples/models');

interface Task {
  readonly label: string;
  /** Seconds (smaller is better) or a rate (larger is better). */
  readonly unit: 's' | 'evaluations/s';
  node(): Promise<number>;
  page(): Promise<number>;
}

export async function browserBench(): Promise<{ markdown: string }> {
  const property = parseVnnlib(readFileSync(join(MODELS, 'acasxu_prop_1.vnnlib'), 'utf8'), 'acasxu_prop_1.vnnlib');
  const box = property.cases[0].box;
  // one thread on both sides: the page has no helper thread
  const model = await loadModel(join(MODELS, 'acasxu_1_1.onnx'), { parallelBounds: false, parallelSearch: false });
  const demo = await openDemo();
  try {
    await loadAcasExample(demo.page, demo.server.url);
    const runtime = (await demo.page.textContent('#runtime-status')) ?? '';
    const seconds = (r: MaximizeResult, want: string): number => {
      if (r.status !== want) throw new Error(`expected status ${want}, got ${r.status}`);
      return r.timeMs / 1000;
    };
    const rate = (r: MaximizeResult): number => r.evaluations / (r.timeMs / 1000);
    const tasks: Task[] = [
      {
        label: 'certified maximum of y0, tol 1e-4',
        unit: 's',
        node: async () => seconds(await maximize(model, { box, objective: 'y0', certify: true, tol: 1e-4, timeLimitMs: 60_000, seed: 0 }), 'optimal'),
        page: async () => seconds(await runInPage(demo.page, { objective: 'y0', timeLimitS: 60, tol: 1e-4, certify: true }), 'optimal'),
      },
      {
        label: 'certified maximum of y0, tol 0.5',
        unit: 's',
        node: async () => seconds(await maximize(model, { box, objective: 'y0', certify: true, tol: 0.5, timeLimitMs: 60_000, seed: 0 }), 'optimal'),
        page: async () => seconds(await runInPage(demo.page, { objective: 'y0', timeLimitS: 60, tol: 0.5, certify: true }), 'optimal'),
      },
      {
        label: 'verify property 1 (unsat)',
        unit: 's',
        node: async () => {
          const v = await verify(model, property, { timeLimitMs: 120_000 });
          if (v.status !== 'unsat') throw new Error(`verify in Node: ${v.status}`);
          return v.timeMs / 1000;
        },
        page: async () => {
          const v = await verifyInPage(demo.page, 120);
          if (v.status !== 'unsat') throw new Error(`verify in the page: ${v.status}`);
          return v.timeMs / 1000;
        },
      },
      {
        label: 'sampling throughput (3 s)',
        unit: 'evaluations/s',
        node: async () => rate(await maximize(model, { box, objective: 'y0', method: 'sample', timeLimitMs: 3000, seed: 0 })),
        page: async () => rate(await runInPage(demo.page, { objective: 'y0', timeLimitS: 3, tol: 1e-4, certify: false, method: 'sample' })),
      },
    ];
    const rows: (string | number)[][] = [];
    for (const task of tasks) {
      const better = task.unit === 's' ? Math.min : Math.max;
      let node = task.unit === 's' ? Infinity : 0;
      let page = node;
      for (let k = 0; k < RUNS; k++) {
        node = better(node, await task.node());
        page = better(page, await task.page());
      }
      const slower = task.unit === 's' ? page / node : node / page;
      const fmt = (v: number): string => (task.unit === 's' ? v.toFixed(2) : `${(v / 1000).toFixed(0)}k`);
      rows.push([task.label, task.unit, fmt(node), fmt(page), `${slower.toFixed(1)}x`]);
      console.error(`${task.label}: Node ${fmt(node)}, browser ${fmt(page)} (${slower.toFixed(1)}x)`);
    }
    const lines = [
      `ACAS Xu N1,1 over the box of property 1 (the demo's bundled example), the same seeded calls on both sides, best of ${RUNS} alternating runs. Browser: the demo page in headless Chromium (${runtime.trim()}); Node: onnxruntime-node, 1 thread. Model loading excluded.`,
      '',
      table(['task', 'unit', 'Node', 'browser', 'browser slower by'], rows),
    ];
    return { markdown: lines.join('\n') };
  } finally {
    await demo.close();
    await model.dispose();
  }
}
