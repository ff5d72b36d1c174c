/**
 * `pnpm bench [section ...]`: runs the benchmarks and writes their tables into the README
 * (between `<!-- bench:NAME -->` markers). Sections: throughput, maximize, certify (NNMAX_CERTIFY_LIMIT_S), certify-domains (rows, integers and one-hot groups against the MILP), verify (ACAS Xu; NNMAX_VERIFY_FAMILIES to change), verify-cli (ACAS Xu, start-ups included: one CLI process per instance, then one `verify --instances` process for all), verify-mnist (mnistfc and ERAN; NNMAX_VERIFY_TIMEOUT_S), browser (the demo page in Chromium against Node).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReadmeBlock } from './readme-table.js';
import { browserBench } from './browser.js';
import { certifyBench } from './certify.js';
import { certifyDomainsBench } from './certify-domains.js';
import { maximizeBench } from './maximize.js';
import { throughputBench } from './throughput.js';
import { verifyBench, verifyCliBench } from './verify.js';

const README = join(dirname(fileURLToPath(import.meta.url)), '../../README.md');
const SECTIONS: Record<string, () => Promise<{ markdown: string }>> = {
  throughput: throughputBench,
  maximize: maximizeBench,
  certify: certifyBench,
  'certify-domains': certifyDomainsBench,
  verify: () => verifyBench('verify'),
  'verify-cli': verifyCliBench,
  'verify-mnist': () => verifyBench('verify-mnist', ['mnistfc', 'eran']),
  browser: browserBench,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted.length > 0 ? wanted : Object.keys(SECTIONS)) {
  const section = SECTIONS[name];
  if (!section) {
    console.error(`unknown bench section '${name}'; sections: ${Object.keys(SECTIONS).join(', ')}`);
    process.exitCode = 2;
    continue;
  }
  const t0 = performance.now();
  console.error(`bench ${name} ...`);
  const { markdown } = await section();
  console.log(`\n## ${name}\n\n${markdown}\n`);
  const written = writeReadmeBlock(README, name, markdown);
  console.error(`bench ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s${written ? ', README updated' : ' (no README block)'}`);
}
