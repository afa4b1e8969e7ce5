import { Readable, Writable } from 'node:stream';
import type { Env } from '../../lib/config';
import { main, type CliDeps } from '../../lib/cli/main';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Runs the CLI in-process with captured stdout/stderr and the given environment. */
export async function runCli(
  argv: string[],
  env: Env,
  deps: CliDeps,
  options: { tty?: boolean } = {},
): Promise<CliResult> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await main(
    argv,
    { stdout, stderr, stdin: Readable.from([]), env, stdoutIsTty: options.tty ?? false },
    deps,
  );
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** RFC 4180 parser (quoted fields, doubled quotes, CRLF records), for checking what the CLI wrote. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || record.length > 0) throw new Error('CSV does not end with CRLF');
  return records;
}
