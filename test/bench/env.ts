// Imported first by every bench entry point: the AWS SDK warns on Node 20 about a future Node 22 requirement,
// noise in a benchmark's output (test/support/env.ts does the same for jest).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
