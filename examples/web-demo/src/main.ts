/**
 * The demo page: open a model (file, drop or bundled example), set the problem, run the search in
 * the worker with a live convergence plot, and show the result with the objective's surface
 * through x*. Every failure ends in the #error banner, never in a blank page.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { MaximizeResult, SearchMethod } from 'nnmax';
import { ConvergencePlot } from './convergence-plot.js';
import { byId, h, num } from './dom.js';
import { EXAMPLES, MODELS_BASE, type Example } from './examples.js';
import { drawHeatMap } from './heat-map.js';
import type { LoadedModel, ProgressPoint, RunSpec, Verdict } from './protocol.js';
import { SearchClient, type Running } from './search-client.js';
import { drawSlices } from './slice-plots.js';

const HEAT_STEPS = 64; // 64 x 64 grid: 4096 points in one batch
const SLICE_STEPS = 101;
const MAX_SLICES = 8; // slices for the first inputs only (an image net has hundreds)
const DEFAULT_BOX: readonly [number, number] = [-1, 1]; // for a model opened without a box

/** A problem in the form the page keeps between runs. */
interface LastRun {
  readonly file: string;
  readonly spec: RunSpec;
  readonly result: MaximizeResult;
}

const client = new SearchClient();
const plot = new ConvergencePlot(byId('convergence', HTMLDivElement));
const el = {
  error: byId('error', HTMLDivElement),
  runtime: byId('runtime-status', HTMLParagraphElement),
  drop: byId('drop-zone', HTMLDivElement),
  modelFile: byId('model-file', HTMLInputElement),
  example: byId('example', HTMLSelectElement),
  loadExample: byId('load-example', HTMLButtonElement),
  modelInfo: byId('model-info', HTMLDivElement),
  boxEditor: byId('box-editor', HTMLDivElement),
  vnnlibFile: byId('vnnlib-file', HTMLInputElement),
  propertyStatus: byId('property-status', HTMLSpanElement),
  objective: byId('objective', HTMLInputElement),
  sense: byId('sense', HTMLSelectElement),
  method: byId('method', HTMLSelectElement),
  timeLimit: byId('time-limit', HTMLInputElement),
  tol: byId('tol', HTMLInputElement),
  seed: byId('seed', HTMLInputElement),
  certify: byId('certify', HTMLInputElement),
  run: byId('run', HTMLButtonElement),
  stop: byId('stop', HTMLButtonElement),
  verify: byId('verify', HTMLButtonElement),
  progress: byId('progress-text', HTMLParagraphElement),
  result: byId('result', HTMLDivElement),
  download: byId('download', HTMLButtonElement),
  verdict: byId('verdict', HTMLDivElement),
  heatI: byId('heat-i', HTMLSelectElement),
  heatJ: byId('heat-j', HTMLSelectElement),
  surfaceStatus: byId('surface-status', HTMLSpanElement),
  heatMap: byId('heat-map', HTMLCanvasElement),
  slices: byId('slices', HTMLDivElement),
};

let model: LoadedModel | undefined;
let property: { readonly text: string; readonly file: string } | undefined;
let running: Running<unknown> | undefined;
let last: LastRun | undefined;
/** The point the surface plots go through: x* after a run, else the box centre. */
let through: number[] | undefined;

// ---------------------------------------------------------------- errors and state

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
  el.error.replaceChildren(h('strong', {}, typeof code === 'string' ? `${code}: ` : 'Error: '), message);
  el.error.hidden = false;
}

function clearError(): void {
  el.error.hidden = true;
  el.error.replaceChildren();
}

/** Runs an event handler; whatever it throws is shown on the page. */
function guard(work: () => Promise<void> | void): () => void {
  return () => {
    clearError();
    Promise.resolve()
      .then(work)
      .catch((e: unknown) => {
        showError(e);
        setState('idle');
      });
  };
}

type PageState = 'idle' | 'loading' | 'running' | 'verifying';

/** The page's state, also in `body[data-state]` for tests; buttons follow it. */
function setState(state: PageState): void {
  document.body.dataset.state = state;
  const busy = state !== 'idle';
  el.run.disabled = busy || !model;
  el.verify.disabled = busy || !model || !property;
  el.stop.disabled = state !== 'running' && state !== 'verifying';
  el.loadExample.disabled = busy;
  el.modelFile.disabled = busy;
  el.vnnlibFile.disabled = busy || !model;
}

// ---------------------------------------------------------------- model

async function openModel(bytes: ArrayBuffer, file: string, box: { lo: readonly number[]; hi: readonly number[] } | undefined): Promise<void> {
  setState('loading');
  model = undefined;
  property = undefined;
  last = undefined;
  through = undefined;
  // which file the state is about: a test (or a user script) waits for this file's 'loaded', not
  // for the previous model's, which is still on the page until the change handler has read the file
  document.body.dataset.modelFile = file;
  document.body.dataset.model = 'loading';
  el.modelInfo.replaceChildren(h('p', { class: 'muted' }, `loading ${file} ...`));
  el.propertyStatus.textContent = '';
  el.result.replaceChildren(h('p', { class: 'muted' }, 'No result yet.'));
  el.verdict.replaceChildren();
  el.download.disabled = true;
  plot.reset();
  el.progress.textContent = 'idle';
  clearSurface();
  try {
    model = await client.load(bytes, file, threadsFromUrl());
  } catch (e) {
    document.body.dataset.model = 'failed';
    el.modelInfo.replaceChildren(h('p', { class: 'muted' }, `${file} could not be loaded.`));
    el.boxEditor.replaceChildren();
    fillHeatAxes(0);
    el.runtime.textContent = 'no model loaded';
    throw e;
  }
  const n = model.info.input.size;
  renderModelInfo(model);
  renderBoxEditor(n, box?.lo ?? Array(n).fill(DEFAULT_BOX[0]), box?.hi ?? Array(n).fill(DEFAULT_BOX[1]));
  fillHeatAxes(n);
  el.runtime.textContent =
    `${model.backend}, ${model.threads} wasm thread${model.threads === 1 ? '' : 's'}` +
    `${model.isolated ? ' (cross-origin isolated)' : ' (not cross-origin isolated: single-threaded)'}; loaded in ${Math.round(model.loadMs)} ms`;
  document.body.dataset.model = 'loaded';
  setState('idle');
  await drawSurface();
}

function renderModelInfo(m: LoadedModel): void {
  const i = m.info;
  const shape = (s: readonly (number | string)[]): string => `[${s.join(', ')}]`;
  const rows: [string, string][] = [
    ['file', i.file],
    ['producer', `${i.producer} (ONNX IR v${i.irVersion}, opset ${i.opset})`],
    ['input', `'${i.input.name}' ${shape(i.input.shape)}: ${i.input.size} values (x0..x${i.input.size - 1})`],
    ['output', `'${i.output.name}' ${shape(i.output.shape)}: ${i.output.size} values (y0..y${i.output.size - 1})`],
    ['ops', i.opTypes.join(', ')],
    ['parameters', i.parameters === null ? 'unknown (outside the IR)' : i.parameters.toLocaleString('en')],
    ['gradients', i.capabilities.gradientGraph ? 'yes' : 'no: black-box search only'],
    ['certified bounds', i.capabilities.bounds ? 'yes' : 'no'],
  ];
  const table = h('table', { class: 'kv', id: 'model-table' }, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))));
  const layers = i.layers.length > 0 ? h('ol', { id: 'layers' }, ...i.layers.map((l) => h('li', {}, l))) : h('p', { class: 'muted' }, 'No layer summary: the model is outside the IR.');
  const unsupported = i.unsupported.map((u) => h('li', {}, `node '${u.node}' (${u.opType}): ${u.reason}`));
  el.modelInfo.replaceChildren(table, h('h3', {}, 'Layers'), layers, ...(unsupported.length > 0 ? [h('ul', { class: 'warning' }, ...unsupported)] : []));
}

async function loadExample(ex: Example): Promise<void> {
  const bytes = await fetchBytes(new URL(ex.model, MODELS_BASE));
  const box = ex.box ? { lo: ex.box.map((b) => b[0]), hi: ex.box.map((b) => b[1]) } : undefined;
  el.objective.value = ex.objective;
  await openModel(bytes, ex.model, box);
  if (ex.property) {
    const url = new URL(ex.property, MODELS_BASE);
    await openProperty(new TextDecoder().decode(await fetchBytes(url)), ex.property);
  }
}

async function fetchBytes(url: URL): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (cause) {
    throw new Error(`could not fetch ${url.pathname}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  if (!res.ok) throw new Error(`could not fetch ${url.pathname}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

async function openFile(file: File): Promise<void> {
  if (/\.vnnlib$/i.test(file.name)) {
    if (!model) throw new Error(`${file.name}: open a model first, then its VNN-LIB property`);
    await openProperty(await file.text(), file.name);
    return;
  }
  await openModel(await file.arrayBuffer(), file.name, undefined);
}

// ---------------------------------------------------------------- problem

async function openProperty(text: string, file: string): Promise<void> {
  const summary = await client.property(text, file);
  property = { text, file };
  setBox(summary.lo, summary.hi);
  el.propertyStatus.textContent =
    `${file}: ${summary.cases} input region${summary.cases === 1 ? '' : 's'}; the box is its ` +
    `${summary.cases === 1 ? '' : 'first '}input region. "Verify property" answers it (sat / unsat).`;
  setState('idle');
  await drawSurface();
}

function renderBoxEditor(n: number, lo: readonly number[], hi: readonly number[]): void {
  const all = h(
    'tr',
    { class: 'all' },
    h('th', {}, 'all'),
    h('td', {}, h('input', { id: 'lo-all', size: 9, value: String(DEFAULT_BOX[0]) })),
    h('td', {}, h('input', { id: 'hi-all', size: 9, value: String(DEFAULT_BOX[1]) })),
    h('td', {}, h('button', { type: 'button', id: 'apply-all' }, 'apply to all')),
  );
  const rows = Array.from({ length: n }, (_, i) =>
    h(
      'tr',
      {},
      h('th', {}, `x${i}`),
      h('td', {}, h('input', { id: `lo-${i}`, class: 'lo', size: 9, value: String(lo[i]), 'aria-label': `lower bound of x${i}` })),
      h('td', {}, h('input', { id: `hi-${i}`, class: 'hi', size: 9, value: String(hi[i]), 'aria-label': `upper bound of x${i}` })),
    ),
  );
  const table = h('table', { class: 'box', id: 'box-table' }, h('tr', {}, h('th', {}, 'input'), h('th', {}, 'lo'), h('th', {}, 'hi')), ...rows, all);
  el.boxEditor.replaceChildren(h('div', { class: 'scroll' }, table));
  byId('apply-all', HTMLButtonElement).addEventListener(
    'click',
    guard(() => {
      const a = byId('lo-all', HTMLInputElement).value;
      const b = byId('hi-all', HTMLInputElement).value;
      for (let i = 0; i < n; i++) {
        byId(`lo-${i}`, HTMLInputElement).value = a;
        byId(`hi-${i}`, HTMLInputElement).value = b;
      }
    }),
  );
}

function setBox(lo: readonly number[], hi: readonly number[]): void {
  lo.forEach((v, i) => (byId(`lo-${i}`, HTMLInputElement).value = String(v)));
  hi.forEach((v, i) => (byId(`hi-${i}`, HTMLInputElement).value = String(v)));
}

/** The box in the editor; a bad entry throws an error naming the input. */
function readBox(n: number): { lo: number[]; hi: number[] } {
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = parseNumber(byId(`lo-${i}`, HTMLInputElement).value, `box: lower bound of x${i}`);
    const b = parseNumber(byId(`hi-${i}`, HTMLInputElement).value, `box: upper bound of x${i}`);
    if (!(a <= b)) throw new Error(`box: x${i} has lo ${a} > hi ${b}. Each input needs lo <= hi`);
    lo.push(a);
    hi.push(b);
  }
  return { lo, hi };
}

function parseNumber(text: string, what: string): number {
  const v = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(v)) throw new Error(`${what}: '${text}' is not a finite number`);
  return v;
}

function readSpec(m: LoadedModel): RunSpec {
  const { lo, hi } = readBox(m.info.input.size);
  const timeLimitS = parseNumber(el.timeLimit.value, 'time limit');
  if (!(timeLimitS > 0)) throw new Error(`time limit: ${timeLimitS} s is not positive`);
  const tol = parseNumber(el.tol.value, 'tolerance');
  if (!(tol >= 0)) throw new Error(`tolerance: ${tol} is negative`);
  const seed = parseNumber(el.seed.value, 'seed');
  return {
    objective: el.objective.value,
    sense: el.sense.value === 'min' ? 'min' : 'max',
    lo,
    hi,
    method: el.method.value as SearchMethod,
    certify: el.certify.checked,
    tol,
    timeLimitMs: timeLimitS * 1000,
    seed,
  };
}

// ---------------------------------------------------------------- run, stop, verify

async function run(): Promise<void> {
  if (!model) throw new Error('open a model first');
  const m = model;
  const spec = readSpec(m);
  plot.reset();
  el.progress.textContent = 'starting ...';
  el.result.replaceChildren(h('p', { class: 'muted' }, 'running ...'));
  el.result.removeAttribute('data-status');
  el.download.disabled = true;
  setState('running');
  const handle = client.run(spec, (p) => onProgress(p, 'search'));
  running = handle;
  let result: MaximizeResult;
  try {
    result = await handle.done;
  } catch (e) {
    el.result.replaceChildren(h('p', { class: 'muted' }, 'The run failed (see the message above).'));
    el.progress.textContent = 'failed';
    throw e;
  } finally {
    running = undefined;
    setState('idle');
  }
  last = { file: m.info.file, spec, result };
  renderResult(last);
  el.progress.textContent = `${result.status} after ${(result.timeMs / 1000).toFixed(2)} s, ${result.evaluations.toLocaleString('en')} evaluations`;
  through = result.x;
  await drawSurface();
}

async function verifyProperty(): Promise<void> {
  if (!model || !property) throw new Error('open a model and a VNN-LIB property first');
  const timeLimitS = parseNumber(el.timeLimit.value, 'time limit');
  if (!(timeLimitS > 0)) throw new Error(`time limit: ${timeLimitS} s is not positive`);
  plot.reset();
  el.progress.textContent = 'starting ...';
  el.verdict.replaceChildren(h('p', { class: 'muted' }, `verifying ${property.file} ...`));
  el.verdict.removeAttribute('data-status');
  el.verdict.removeAttribute('data-time-ms');
  setState('verifying');
  const handle = client.verify({ text: property.text, file: property.file, timeLimitMs: timeLimitS * 1000, seed: parseNumber(el.seed.value, 'seed') }, (p) =>
    onProgress(p, 'margin'),
  );
  running = handle;
  try {
    renderVerdict(await handle.done);
  } catch (e) {
    el.verdict.replaceChildren(h('p', { class: 'muted' }, 'Verification failed (see the message above).'));
    el.progress.textContent = 'failed';
    throw e;
  } finally {
    running = undefined;
    setState('idle');
  }
}

function onProgress(p: ProgressPoint, what: string): void {
  plot.push(p);
  const region = p.caseIndex !== undefined ? `region ${p.caseIndex} · ` : '';
  el.progress.textContent =
    `${region}${(p.elapsedMs / 1000).toFixed(1)} s · ${p.evaluations.toLocaleString('en')} evaluations · ` +
    `${what} ${num(p.value)} · bound ${num(p.bound)} · gap ${num(p.gap)} · ${p.phase}`;
}

function renderResult(r: LastRun): void {
  const res = r.result;
  const rows: [string, string, string][] = [
    ['status', 'status', res.status],
    ['value', res.sense === 'max' ? 'maximum found f(x*)' : 'minimum found f(x*)', num(res.value)],
    ['bound', res.sense === 'max' ? 'certified upper bound' : 'certified lower bound', res.upperBound === null ? 'none (certify is off)' : num(res.upperBound)],
    ['gap', 'gap', res.gap === null ? '—' : num(res.gap)],
    ['evaluations', 'evaluations', res.evaluations.toLocaleString('en')],
    ['time', 'time', `${(res.timeMs / 1000).toFixed(2)} s`],
    ['method', 'method', res.method],
    ['x', 'x*', `[${res.x.map((v) => num(v)).join(', ')}]`],
  ];
  el.result.replaceChildren(
    h('table', { class: 'kv', id: 'result-table' }, ...rows.map(([key, label, v]) => h('tr', { 'data-field': key }, h('th', {}, label), h('td', {}, v)))),
    h('details', {}, h('summary', {}, 'JSON'), h('pre', { id: 'result-json' }, JSON.stringify(resultJson(r), null, 2))),
  );
  el.result.dataset.status = res.status;
  el.download.disabled = false;
}

/** What the download holds: the model, the problem and the `maximize --json` result. */
function resultJson(r: LastRun): object {
  const { lo, hi, ...rest } = r.spec;
  return { model: r.file, problem: { ...rest, box: { lo, hi } }, result: r.result };
}

function renderVerdict(v: Verdict): void {
  const bounds = v.caseBounds.map((b, k) => `region ${k}: ${b === null ? 'no bound' : num(b)}`).join('; ');
  el.verdict.replaceChildren(
    h('h3', {}, 'VNN-LIB verdict'),
    h('p', {}, h('strong', { id: 'verdict-status' }, v.status), ` in ${(v.timeMs / 1000).toFixed(2)} s: ${v.reason}`),
    h('p', { class: 'muted' }, `certified margin bounds (< 0 proves a region): ${bounds}`),
    h('pre', { id: 'verdict-text' }, v.text),
  );
  el.verdict.dataset.timeMs = String(v.timeMs);
  el.verdict.dataset.status = v.status;
}

function download(): void {
  if (!last) return;
  const blob = new Blob([JSON.stringify(resultJson(last), null, 2)], { type: 'application/json' });
  const a = h('a', { href: URL.createObjectURL(blob), download: `nnmax-${last.file.replace(/\.onnx$/i, '')}-result.json` });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// ---------------------------------------------------------------- surfaces

function fillHeatAxes(n: number): void {
  const options = (selected: number): HTMLOptionElement[] =>
    Array.from({ length: n }, (_, i) => h('option', { value: i, selected: i === selected }, `x${i}`));
  el.heatI.replaceChildren(...options(0));
  el.heatJ.replaceChildren(...options(Math.min(1, n - 1)));
  el.heatI.disabled = n < 2;
  el.heatJ.disabled = n < 2;
}

function clearSurface(): void {
  el.heatMap.getContext('2d')?.clearRect(0, 0, el.heatMap.width, el.heatMap.height);
  el.slices.replaceChildren();
  el.surfaceStatus.textContent = '';
}

/** The heat map over the chosen inputs and the 1-D slices, through x* (or the box centre). */
async function drawSurface(): Promise<void> {
  if (!model) return;
  const n = model.info.input.size;
  const box = readBox(n);
  const point = through ?? box.lo.map((l, i) => (l + box.hi[i]) / 2);
  const i = Number(el.heatI.value);
  const j = Number(el.heatJ.value);
  const heat: [number, number] | null = n >= 2 && i !== j ? [i, j] : null;
  const slices = Array.from({ length: Math.min(n, MAX_SLICES) }, (_, k) => k);
  const surface = await client.surface({
    objective: last?.spec.objective ?? el.objective.value,
    through: point,
    lo: box.lo,
    hi: box.hi,
    heat,
    heatSteps: HEAT_STEPS,
    slices,
    sliceSteps: SLICE_STEPS,
  });
  const names = Array.from({ length: n }, (_, k) => `x${k}`);
  if (heat) {
    const range = drawHeatMap(el.heatMap, surface, {
      names: [names[heat[0]], names[heat[1]]],
      box: [
        [box.lo[heat[0]], box.hi[heat[0]]],
        [box.lo[heat[1]], box.hi[heat[1]]],
      ],
      point: [point[heat[0]], point[heat[1]]],
    });
    el.surfaceStatus.textContent = `${surface.points.toLocaleString('en')} points in one batch through ${through ? 'x*' : 'the box centre'}; objective from ${num(range.min)} to ${num(range.max)}`;
  } else {
    el.heatMap.getContext('2d')?.clearRect(0, 0, el.heatMap.width, el.heatMap.height);
    el.surfaceStatus.textContent = n < 2 ? 'one input: slices only' : 'pick two different inputs for the heat map';
  }
  drawSlices(el.slices, surface, { box, point, names });
}

// ---------------------------------------------------------------- wiring

/** `?threads=N` fixes onnxruntime-web's wasm thread count (benchmarks); default automatic. */
function threadsFromUrl(): number {
  const v = Number(new URLSearchParams(location.search).get('threads') ?? 0);
  return Number.isInteger(v) && v > 0 ? v : 0;
}

el.example.replaceChildren(...EXAMPLES.map((ex) => h('option', { value: ex.id }, ex.label)));
el.loadExample.addEventListener(
  'click',
  guard(async () => {
    const ex = EXAMPLES.find((e) => e.id === el.example.value);
    if (ex) await loadExample(ex);
  }),
);
el.modelFile.addEventListener(
  'change',
  guard(async () => {
    const file = el.modelFile.files?.[0];
    el.modelFile.value = '';
    if (file) await openFile(file);
  }),
);
el.vnnlibFile.addEventListener(
  'change',
  guard(async () => {
    const file = el.vnnlibFile.files?.[0];
    el.vnnlibFile.value = '';
    if (!file) return;
    if (!model) throw new Error(`${file.name}: open a model first, then its VNN-LIB property`);
    await openProperty(await file.text(), file.name);
  }),
);
// A file dropped anywhere is opened (the browser would otherwise navigate away to it).
for (const type of ['dragenter', 'dragover'] as const) {
  document.addEventListener(type, (ev) => {
    ev.preventDefault();
    el.drop.classList.add('over');
  });
}
document.addEventListener('dragleave', (ev) => {
  if (ev.relatedTarget === null) el.drop.classList.remove('over');
});
document.addEventListener('drop', (ev) => {
  ev.preventDefault();
  el.drop.classList.remove('over');
  const file = ev.dataTransfer?.files[0];
  if (file && document.body.dataset.state === 'idle') guard(() => openFile(file))();
});
el.run.addEventListener('click', guard(run));
el.verify.addEventListener('click', guard(verifyProperty));
el.stop.addEventListener('click', () => running?.cancel());
el.download.addEventListener('click', download);
for (const s of [el.heatI, el.heatJ]) s.addEventListener('change', guard(drawSurface));
window.addEventListener('error', (ev) => showError(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));
setState('idle');
