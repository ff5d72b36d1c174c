/**
 * Drives the built web demo in Debian's Chromium through playwright-core: used by the e2e tests
 * (test/e2e/web-demo.e2e.ts) and by the browser section of `pnpm bench` (test/bench/browser.ts).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MaximizeResult } from 'nnmax';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serveStatic, type StaticServer } from './static-server.js';

export const ROOT = join(import.meta.dirname, '../..');
export const DEMO = join(ROOT, 'examples/web-demo');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface DemoSession {
  readonly server: StaticServer;
  readonly browser: Browser;
  readonly page: Page;
  /** The page's console and errors, for artefacts. */
  readonly log: string[];
  readonly buildMs: number;
  close(): Promise<void>;
}

/** Builds the demo (Vite), serves dist/ with COOP/COEP, and opens a page in headless Chromium. */
export async function openDemo(): Promise<DemoSession> {
  const t0 = performance.now();
  await promisify(execFile)('pnpm', ['--dir', DEMO, 'run', 'build'], { cwd: ROOT, maxBuffer: 16 * 2 ** 20 });
  const buildMs = performance.now() - t0;
  const server = await serveStatic(join(DEMO, 'dist'));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1800 }, acceptDownloads: true });
  const log: string[] = [];
  page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  return {
    server,
    browser,
    page,
    log,
    buildMs,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens the demo page and loads the bundled ACAS Xu example with its property-1 box. */
export async function loadAcasExample(page: Page, serverUrl: string, threads?: string): Promise<void> {
  await page.goto(`${serverUrl}${threads ? `?threads=${threads}` : ''}`);
  await page.selectOption('#example', 'acasxu');
  await page.click('#load-example');
  await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
  await page.waitForSelector('#verify:not([disabled])', { timeout: 30_000 });
}

export interface PageRunSettings {
  readonly objective: string;
  readonly timeLimitS: number;
  readonly tol: number;
  readonly certify: boolean;
  readonly method?: string;
}

/** Sets the form, clicks Run and returns the result JSON the page shows (and downloads). */
export async function runInPage(page: Page, settings: PageRunSettings): Promise<MaximizeResult> {
  await page.fill('#objective', settings.objective);
  await page.selectOption('#sense', 'max');
  await page.selectOption('#method', settings.method ?? 'auto');
  await page.fill('#time-limit', String(settings.timeLimitS));
  await page.fill('#tol', String(settings.tol));
  await page.fill('#seed', '0');
  await page.setChecked('#certify', settings.certify);
  await page.click('#run');
  await page.waitForSelector('body[data-state="running"]', { timeout: 10_000 });
  await page.waitForSelector('#result[data-status]', { timeout: (settings.timeLimitS + 60) * 1000 });
  const json = JSON.parse((await page.textContent('#result-json', { timeout: 1000 })) ?? 'null') as { result: MaximizeResult };
  await page.waitForSelector('body[data-state="idle"]');
  return json.result;
}

/** Clicks 'Verify property' with the given time limit and returns the verdict's status and time. */
export async function verifyInPage(page: Page, timeLimitS: number): Promise<{ status: string | null; timeMs: number }> {
  await page.fill('#time-limit', String(timeLimitS));
  await page.click('#verify');
  await page.waitForSelector('body[data-state="verifying"]', { timeout: 10_000 });
  await page.waitForSelector('#verdict[data-status]', { timeout: (timeLimitS + 30) * 1000 });
  await page.waitForSelector('body[data-state="idle"]');
  return { status: await page.getAttribute('#verdict', 'data-status'), timeMs: Number(await page.getAttribute('#verdict', 'data-time-ms')) };
}
