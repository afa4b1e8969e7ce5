/**
 * `npm run docs`: writes the files generated from the code, from one sampling run:
 *   - docs/data-dictionary.md            every column of every row type, personal data marked;
 *   - lib/query/analytics-schema.json    the Glue tables of the S3 copy (infra/analytics.ts reads it, so
 *                                        it stays beside its type in lib/ though a build-time tool writes it).
 * Both are formatted with the repository's prettier settings so `prettier --check` agrees.
 * `npm run docs -- --check` exits 1 when a committed file is out of date (test/unit/docs-dictionary.test.ts checks
 * the same).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAnalyticsSchema } from './analytics-schema';
import { buildDictionary } from './dictionary';
import { renderDictionary } from './render';
import { defaultSamples } from './samples';

export const REPO_ROOT = join(__dirname, '..', '..');
export const DICTIONARY_PATH = join(REPO_ROOT, 'docs', 'data-dictionary.md');
export const ANALYTICS_SCHEMA_PATH = join(REPO_ROOT, 'lib', 'query', 'analytics-schema.json');

/** The generated files' texts as the code defines them today, before formatting. */
export async function generateDocs(
  repoRoot: string,
): Promise<{ dictionary: string; analyticsSchema: string }> {
  const dictionary = await buildDictionary(defaultSamples(repoRoot));
  return {
    dictionary: renderDictionary(dictionary),
    analyticsSchema: JSON.stringify(buildAnalyticsSchema(dictionary), null, 2) + '\n',
  };
}

function prettier(text: string, filepath: string): string {
  // The prettier CLI, not its API: the API loads itself through a dynamic import that jest's CommonJS
  // runtime refuses ("A dynamic import callback was invoked without --experimental-vm-modules").
  return execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--stdin-filepath', filepath],
    { input: text, encoding: 'utf8', cwd: REPO_ROOT },
  );
}

/** Path → the text the file must have. */
export async function generatedFiles(): Promise<Map<string, string>> {
  const docs = await generateDocs(REPO_ROOT);
  return new Map([
    [DICTIONARY_PATH, prettier(docs.dictionary, DICTIONARY_PATH)],
    [ANALYTICS_SCHEMA_PATH, prettier(docs.analyticsSchema, ANALYTICS_SCHEMA_PATH)],
  ]);
}

async function run(): Promise<void> {
  const check = process.argv.includes('--check');
  for (const [path, text] of await generatedFiles()) {
    if (!check) {
      writeFileSync(path, text);
      process.stderr.write(`wrote ${path}\n`);
    } else if (readFileSync(path, 'utf8') !== text) {
      process.stderr.write(`${path} is out of date: run \`npm run docs\`\n`);
      process.exitCode = 1;
    }
  }
}

if (require.main === module) void run();
