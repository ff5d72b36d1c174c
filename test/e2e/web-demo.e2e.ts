/**
 * The demo page end to end: build it, serve the built files with COOP/COEP, drive Debian's
 * Chromium through playwright-core, and compare the page's answers with the Node library's.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, maximize, parseVnnlib, verify, type MaximizeOptions, type MaximizeResult, type Model } from 'nnmax';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestGraph, weights } from '../helpers/onnx-builder.js';
import { loadAcasExample, openDemo, ROOT, runInPage as runIn, verifyInPage as verifyIn, type DemoSession, type PageRunSettings } from './demo-driver.js';

const MODELS = join(ROOT, 'examples/models');
const ARTIFACTS = join(ROOT, 'test/artifacts');

/** The page and Node run the same seeded search; the issue asks for agreement within 1e-4. */
const BROWSER_NODE_VALUE_TOL = 1e-4;
/**
 * The certified maximisation both sides run (ACAS Xu N1,1, y0 over the box of property 1). Node
 * closes the gap to 1e-4 in about 4 s; the page, about 2.7x slower, may stop on time first.
 */
const MAX_TIME_LIMIT_S = 20;
/** Property 1 on N1,1 holds; about 4 s in Node, so this is generous. */
const VERIFY_TIME_LIMIT_S = 120;
/** Repetitions of each timed comparison (best of, alternating Node and page). */
const TIMING_RUNS = 2;

/** E2E_THREADS=N fixes onnxruntime-web's wasm threads in the page (for measurements); default automatic. */
const THREADS = process.env.E2E_THREADS;

const property = parseVnnlib(readFileSync(join(MODELS, 'acasxu_prop_1.vnnlib'), 'utf8'), 'acasxu_prop_1.vnnlib');
const box = property.cases[0].box;

let demo: DemoSession;
let page: Page;
let node: Model;
const timing: Record<string, unknown> = {};

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  demo = await openDemo();
  page = demo.page;
  timing.buildMs = Math.round(demo.buildMs);
  node = await loadModel(join(MODELS, 'acasxu_1_1.onnx'));
});

afterAll(async () => {
  await node?.dispose();
  await demo?.close();
  writeFileSync(join(ARTIFACTS, 'web-demo-timing.json'), `${JSON.stringify(timing, null, 2)}\n`);
  writeFileSync(join(ARTIFACTS, 'web-demo-console.log'), `${demo?.log.join('\n') ?? ''}\n`);
});

const runInPage = (settings: PageRunSettings): Promise<MaximizeResult> => runIn(page, settings);
const verifyInPage = (): Promise<{ status: string | null; timeMs: number }> => verifyIn(page, VERIFY_TIME_LIMIT_S);

function runInNode(options: MaximizeOptions): Promise<MaximizeResult> {
  return maximize(node, { box, seed: 0, ...options });
}

describe('web demo in Chromium (wasm) against the Node library', () => {
  it('loads the bundled ACAS Xu example with its VNN-LIB box, cross-origin isolated', async () => {
    await loadAcasExample(page, demo.server.url, THREADS);
    expect(await page.textContent('#model-table')).toContain('acasxu_1_1.onnx');
    expect(await page.locator('#layers li').count()).toBe(13); // 7 dense + 6 relu
    expect(await page.inputValue('#lo-0')).toBe(String(box.lo[0]));
    expect(await page.inputValue('#hi-4')).toBe(String(box.hi[4]));
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    timing.runtime = await page.textContent('#runtime-status');
  });

  it('certified maximum of y0 over the property-1 box matches maximize() in Node', async () => {
    const options = { objective: 'y0', certify: true, tol: 1e-4, timeLimitMs: MAX_TIME_LIMIT_S * 1000 };
    const inNode = await runInNode(options);
    const inPage = await runInPage({ objective: 'y0', timeLimitS: MAX_TIME_LIMIT_S, tol: 1e-4, certify: true });
    timing.certifiedMax = { node: inNode, page: inPage };
    timing.certifiedMaxTime = {
      nodeMs: Math.round(inNode.timeMs),
      pageMs: Math.round(inPage.timeMs),
      ratio: round(inPage.timeMs / inNode.timeMs),
      status: `${inNode.status} / ${inPage.status}`,
    };
    expect(inPage.certified).toBe(true);
    expect(inPage.upperBound).not.toBeNull();
    expect(inPage.upperBound!).toBeGreaterThanOrEqual(inPage.value);
    expect(Math.abs(inPage.value - inNode.value)).toBeLessThanOrEqual(BROWSER_NODE_VALUE_TOL);
    // x* stays inside the box and the heat map is drawn through it
    inPage.x.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(box.lo[i]);
      expect(v).toBeLessThanOrEqual(box.hi[i]);
    });
    await page.waitForFunction(() => document.querySelector('#surface-status')?.textContent?.includes('through x*'), undefined, { timeout: 30_000 });
    expect(await page.locator('#slices canvas').count()).toBeGreaterThanOrEqual(5);
    await page.screenshot({ path: join(ARTIFACTS, 'web-demo.png'), fullPage: true });
  });

  it('the downloaded JSON holds the same result', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const saved = JSON.parse(readFileSync(await download.path(), 'utf8')) as { model: string; result: MaximizeResult };
    expect(saved.model).toBe('acasxu_1_1.onnx');
    expect(saved.result).toEqual(timing.certifiedMax && (timing.certifiedMax as { page: MaximizeResult }).page);
  });

  it('Stop aborts a running search in the worker: progress streams, then the incumbent comes back early', async () => {
    await page.fill('#time-limit', '120');
    await page.fill('#tol', '0');
    await page.setChecked('#certify', true);
    const t0 = performance.now();
    await page.click('#run');
    await page.waitForFunction(() => /evaluations .* bound [-\d]/.test(document.querySelector('#progress-text')?.textContent ?? ''), undefined, { timeout: 30_000 });
    await page.click('#stop');
    await page.waitForSelector('#result[data-status]', { timeout: 30_000 });
    const stopped = (JSON.parse((await page.textContent('#result-json')) ?? 'null') as { result: MaximizeResult }).result;
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(stopped.status).toBe('feasible'); // stopped by the signal, not by time or a closed gap
    expect(stopped.timeMs).toBeLessThan(60_000);
    expect(stopped.upperBound!).toBeGreaterThanOrEqual(stopped.value);
    await page.waitForSelector('body[data-state="idle"]');
  });

  it("verify answers 'unsat' for property 1, as in Node", async () => {
    const inNode = await verify(node, property, { timeLimitMs: VERIFY_TIME_LIMIT_S * 1000 });
    expect(inNode.status).toBe('unsat');
    const verdict = await verifyInPage();
    expect(verdict.status).toBe('unsat');
    expect((await page.textContent('#verdict-text'))?.trim()).toBe('unsat');
  });

  it('same work, browser against Node: verify, a certified maximum to gap 0.5, and sampling throughput', async () => {
    // The machine is shared: alternate the two sides and keep the best of TIMING_RUNS each.
    const closed = { objective: 'y0', certify: true, tol: 0.5, timeLimitMs: 60_000 };
    const sampling = { objective: 'y0', certify: false, method: 'sample' as const, timeLimitMs: 3000 };
    const rate = (r: MaximizeResult): number => r.evaluations / (r.timeMs / 1000);
    const best = { verify: [Infinity, Infinity], closed: [Infinity, Infinity], sampling: [0, 0] };
    for (let k = 0; k < TIMING_RUNS; k++) {
      const v = await verify(node, property, { timeLimitMs: VERIFY_TIME_LIMIT_S * 1000 });
      best.verify[0] = Math.min(best.verify[0], v.timeMs);
      best.verify[1] = Math.min(best.verify[1], (await verifyInPage()).timeMs);
      const nodeClosed = await runInNode(closed);
      const pageClosed = await runInPage({ objective: 'y0', timeLimitS: 60, tol: 0.5, certify: true });
      expect(nodeClosed.status).toBe('optimal');
      expect(pageClosed.status).toBe('optimal');
      best.closed[0] = Math.min(best.closed[0], nodeClosed.timeMs);
      best.closed[1] = Math.min(best.closed[1], pageClosed.timeMs);
      best.sampling[0] = Math.max(best.sampling[0], rate(await runInNode(sampling)));
      best.sampling[1] = Math.max(best.sampling[1], rate(await runInPage({ objective: 'y0', timeLimitS: 3, tol: 1e-4, certify: false, method: 'sample' })));
    }
    const times = ([nodeMs, pageMs]: number[]) => ({ nodeMs: Math.round(nodeMs), pageMs: Math.round(pageMs), ratio: round(pageMs / nodeMs) });
    timing.verify = times(best.verify);
    timing.closedGap = times(best.closed);
    timing.sampling = { nodePerS: Math.round(best.sampling[0]), pagePerS: Math.round(best.sampling[1]), ratio: round(best.sampling[0] / best.sampling[1]) };
    console.log(`web demo timing (browser / Node): ${JSON.stringify(timing, (key, v) => (key === 'certifiedMax' ? undefined : v))}`);
  });

  it('a bad box, an unsupported op and a garbage file end in the error banner, not a blank page', async () => {
    await page.fill('#lo-2', 'abc');
    await page.click('#run');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toContain("box: lower bound of x2: 'abc' is not a finite number");
    await page.fill('#lo-2', '1');
    await page.fill('#hi-2', '0');
    await page.click('#run');
    await page.waitForFunction(() => document.querySelector('#error')?.textContent?.includes('x2 has lo 1 > hi 0'));

    // An op outside the IR: the model loads for black-box search; certification names the node.
    const g = new TestGraph(['N', 2]);
    const hidden = g.op('Gemm', ['x', g.init([8, 2], weights(16, 1)), g.init([8], weights(8, 2))], { transB: 1 });
    const out = g.op('Gemm', [g.op('Sin', [hidden]), g.init([1, 8], weights(8, 3)), g.init([1], weights(1, 4))], { transB: 1 });
    await page.setInputFiles('#model-file', { name: 'sine.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(g.build(out, ['N', 1])) });
    await page.waitForSelector('body[data-model="loaded"][data-model-file="sine.onnx"]', { timeout: 30_000 });
    expect(await page.textContent('#model-info')).toMatch(/node 'Sin_\d+' \(Sin\)/);
    const blackBox = await runInPage({ objective: 'y0', timeLimitS: 1, tol: 1e-4, certify: false });
    expect(blackBox.certified).toBe(false);
    await page.setChecked('#certify', true);
    await page.click('#run');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/sine\.onnx: node 'Sin_\d+' \(Sin\)/);
    await page.waitForSelector('body[data-state="idle"]');

    await page.setInputFiles('#model-file', { name: 'garbage.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not an ONNX model\n'.repeat(20)) });
    await page.waitForSelector('body[data-model="failed"][data-model-file="garbage.onnx"]', { timeout: 30_000 });
    const error = await page.textContent('#error');
    expect(error).toContain('garbage.onnx');
    expect(await page.isVisible('#error')).toBe(true);
    expect(await page.isDisabled('#run')).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'web-demo-error.png') });
  });
});

describe('library bundle (dist/lib/nnmax.js) in a plain module script', () => {
  it('loads a model by URL and certifies its maximum, with the wasm served beside the bundle', async () => {
    const lib = await demo.browser.newPage();
    lib.on('console', (m) => demo.log.push(`[lib ${m.type()}] ${m.text()}`));
    lib.on('pageerror', (e) => demo.log.push(`[lib pageerror] ${e.message}`));
    await lib.goto(`${demo.server.url}lib/`); // dist/lib/index.html: imports ./nnmax.js, maximises test_small.onnx
    await lib.waitForSelector('#out[data-status]', { timeout: 60_000 });
    const text = (await lib.textContent('#out')) ?? '';
    await lib.close();
    expect(text).toMatch(/^\{/);
    const inPage = JSON.parse(text) as MaximizeResult;
    const model = await loadModel(join(MODELS, 'test_small.onnx'));
    const inNode = await maximize(model, { box: { lo: [-1], hi: [1] }, certify: true, timeLimitMs: 10_000 });
    await model.dispose();
    expect(inPage.status).toBe('optimal');
    expect(Math.abs(inPage.value - inNode.value)).toBeLessThanOrEqual(BROWSER_NODE_VALUE_TOL);
    expect(inPage.upperBound!).toBeGreaterThanOrEqual(inPage.value);
  });
});

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
