#!/usr/bin/env node
// Entry of the `lpv` CLI (`npx lpv`). The CLI is TypeScript run through tsx's CommonJS hook, so a fresh
// clone works right after `npm ci` with no build step.
// The AWS SDK warns on Node 20 about a future Node 22 requirement: noise on every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs');
require('./main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
