import fc from 'fast-check';
import { campaignSeed } from '../helpers/campaign.js';

/**
 * CI replays the same property-test cases on every run (a red build must be reproducible);
 * set FC_SEED to explore other cases locally. A failing case found this way becomes a plain
 * regression test with its seed and path.
 */
fc.configureGlobal({ seed: campaignSeed(20261125) });
