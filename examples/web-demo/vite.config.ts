import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

/** The repo's example models, served at `models/` and copied into the build (never duplicated in git). */
const MODELS_DIR = join(import.meta.dirname, '../models');
const MODEL_FILE = /\.(onnx|vnnlib)$/;

/**
 * Cross-origin isolation: onnxruntime-web's wasm backend uses threads (SharedArrayBuffer) only
 * when the page is cross-origin isolated.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

function exampleModels(): Plugin {
  return {
    name: 'nnmax-example-models',
    configureServer(server) {
      server.middlewares.use('/models/', (req, res, next) => {
        const name = decodeURIComponent((req.url ?? '').replace(/^\/+|\?.*$/g, ''));
        if (!MODEL_FILE.test(name) || name.includes('/')) return next();
        try {
          res.setHeader('Content-Type', 'application/octet-stream');
          res.end(readFileSync(join(MODELS_DIR, name)));
        } catch {
          next();
        }
      });
    },
    writeBundle(options) {
      const out = join(options.dir ?? 'dist', 'models');
      mkdirSync(out, { recursive: true });
      for (const f of readdirSync(MODELS_DIR).filter((n) => MODEL_FILE.test(n))) copyFileSync(join(MODELS_DIR, f), join(out, f));
    },
  };
}

/**
 * The demo page (dist/). `vite.lib.config.ts` then builds the `<script type="module">` library
 * bundle into dist/lib/. `test/e2e/static-server.ts` serves dist/ with the same headers.
 */
export default defineConfig({
  base: './',
  // '@nnmax/source' resolves the workspace packages to their TypeScript sources (no prior tsc build).
  resolve: { conditions: ['@nnmax/source', ...defaultClientConditions] },
  plugins: [exampleModels()],
  worker: { format: 'es' },
  // onnxruntime-web finds its wasm through `new URL(..., import.meta.url)`: pre-bundling breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  build: {
    target: 'es2022',
    // The polyfill's preload script hangs the page when ORT's thread workers re-import the bundle.
    modulePreload: { polyfill: false },
    // onnxruntime-web's wasm (14 MB, 3.7 MB gzipped) is emitted into assets/ beside the worker
    // that loads it through `new URL(..., import.meta.url)`: the page needs no CDN.
    chunkSizeWarningLimit: 1024,
  },
});
