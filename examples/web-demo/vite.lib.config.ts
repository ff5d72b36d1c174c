import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

// Inside the page's dist/ (built first), so the demo server serves the bundle too.
const OUT_DIR = join(import.meta.dirname, 'dist/lib');
/** onnxruntime-web's loader and wasm (the SIMD + threads build), loaded at run time beside nnmax.js. */
const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

function ortWasmFiles(): Plugin {
  return {
    name: 'nnmax-ort-wasm-files',
    writeBundle() {
      const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/wasm'));
      mkdirSync(OUT_DIR, { recursive: true });
      for (const f of ORT_FILES) copyFileSync(join(dist, f), join(OUT_DIR, f));
      // a usage example, also what the e2e test opens
      copyFileSync(join(import.meta.dirname, 'lib/index.html'), join(OUT_DIR, 'index.html'));
    },
  };
}

/**
 * The library bundle for `<script type="module">` users: dist/lib/nnmax.js (one ES module, nnmax
 * and onnxruntime-web's JavaScript) plus onnxruntime-web's loader and wasm beside it. A library
 * build would inline the 14 MB wasm as base64, so onnxruntime-web is built with its
 * `onnxruntime-web-use-extern-wasm` condition: it then loads both files relative to nnmax.js
 * (or from `configureWasm({ wasmPaths })`). Serve the folder from your own origin, no CDN.
 */
export default defineConfig({
  resolve: { conditions: ['@nnmax/source', 'onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  publicDir: false,
  plugins: [ortWasmFiles()],
  build: {
    target: 'es2022',
    outDir: OUT_DIR,
    emptyOutDir: true,
    minify: true,
    sourcemap: false,
    lib: {
      entry: join(import.meta.dirname, 'lib/nnmax.ts'),
      formats: ['es'],
      fileName: () => 'nnmax.js',
    },
  },
});
