/**
 * Child of figure 3: the flatten-cost measurement in a fresh process, so that its ratio does not depend on
 * what the bench ran before it (figures 1 and 2 leave a large heap and many optimised functions behind).
 *
 *   node --import tsx test/bench/flatten-cost-run.ts '{"rounds":15}'
 *
 * Prints `{"started":true}`, then the figures as one JSON line.
 */
import './env';
import { runJsonChild } from './child';
import { benchFlattenCost } from './flatten-cost';

runJsonChild<{ rounds?: number }>('flatten-cost-run', (args) =>
  benchFlattenCost({ rounds: args.rounds ?? 15 }),
);
