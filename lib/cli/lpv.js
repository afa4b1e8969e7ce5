#!/usr/bin/env node
// Entry of the `lpv` CLI (`npx lpv`). The CLI is TypeScript run through tsx's CommonJS hook, so a fresh
// clone works right after `npm ci` with no build step.
require('tsx/cjs');
require('./main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
