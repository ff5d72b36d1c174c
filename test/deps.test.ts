import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** STYLE.md's import table: a package imports only packages listed above it, plus its own outside deps. */
const ALLOWED: Record<string, { workspace: string[]; external: string[] }> = {
  '@nnmax/core': { workspace: [], external: [] },
  '@nnmax/onnx': { workspace: ['@nnmax/core'], external: ['protobufjs'] },
  '@nnmax/runtime': { workspace: ['@nnmax/core'], external: ['onnxruntime-common', 'onnxruntime-node', 'onnxruntime-web'] },
  '@nnmax/search': { workspace: ['@nnmax/core'], external: [] },
  '@nnmax/bounds': { workspace: ['@nnmax/core', '@nnmax/onnx'], external: [] },
  nnmax: { workspace: ['@nnmax/core', '@nnmax/onnx', '@nnmax/runtime', '@nnmax/search', '@nnmax/bounds'], external: [] },
  '@nnmax/cli': { workspace: ['nnmax'], external: ['commander', 'cli-progress'] },
};

/**
 * Imports that are not the package's own dependencies, by file, each with its reason. The helper
 * thread's worker, when nnmax runs from its TypeScript sources (tsx, vitest: development only),
 * registers the workspace's tsx in the worker before importing `.ts` files; from `dist` it never does.
 */
const EXEMPT: Record<string, string[]> = { 'src/node/helper-thread.ts': ['tsx/esm/api'] };

const ROOT = join(import.meta.dirname, '..');
const PACKAGES = readdirSync(join(ROOT, 'packages')).map((d) => join(ROOT, 'packages', d));

function sources(dir: string): string[] {
  if (!existsSync(dir)) return []; // a package whose sources are not written yet has nothing to check
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : /\.ts$/.test(f) && !/\.test(-d)?\.ts$/.test(f) ? [p] : [];
  });
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

describe('package boundaries (STYLE.md)', () => {
  it.each(PACKAGES.map((p) => [relative(ROOT, p), p] as const))('%s declares and imports only what the table allows', (_rel, dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
    const rule = ALLOWED[pkg.name];
    expect(rule, `${pkg.name} is in the table`).toBeDefined();
    const deps = Object.keys(pkg.dependencies ?? {});
    for (const d of deps) expect([...rule.workspace, ...rule.external], `${pkg.name} may depend on ${d}`).toContain(d);
    for (const file of sources(join(dir, 'src'))) {
      const text = readFileSync(file, 'utf8');
      const rel = relative(dir, file);
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (spec.startsWith('.') || EXEMPT[rel]?.includes(spec)) continue;
        if (spec.startsWith('node:')) {
          expect(pkg.name === '@nnmax/cli' || /(^|\/)node\//.test(rel), `${rel}: node: built-ins only behind a ./node entry`).toBe(true);
          continue;
        }
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        expect(deps, `${rel} imports ${spec}: declared in package.json`).toContain(name);
        if (name.startsWith('onnxruntime-') && name !== 'onnxruntime-common') {
          expect(rel.startsWith(`src/${name === 'onnxruntime-node' ? 'node' : 'web'}/`), `${rel}: ${name} only in its adapter`).toBe(true);
        }
      }
      if (pkg.name !== '@nnmax/cli') {
        expect(/\bprocess\.|\bconsole\./.test(text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')), `${rel}: process/console only in the CLI`).toBe(false);
      }
      expect(/Math\.random\s*\(/.test(text), `${rel}: Math.random is banned; inject an Rng`).toBe(false);
      expect(/export \* from/.test(text) && rel === 'src/index.ts', `${rel}: explicit named exports`).toBe(false);
    }
  });
});
