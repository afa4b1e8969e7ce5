/**
 * How a bench child process (figures 1, 2, 3 and 5 run parts of themselves in one, see processes.ts's
 * runTsChild and bundle.ts's runBundledChild) ends: exit 0 when `main` resolves, else its error on stderr and
 * exit 1.
 */
export function runChild(label: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `${label}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}

/**
 * The usual child: its options as JSON in argv[2]; prints `{"started":true}`, then what `work` resolves with as
 * one JSON line (the last line, which runTsChild and runBundledChild return).
 */
export function runJsonChild<Options>(label: string, work: (options: Options) => Promise<unknown>): void {
  runChild(label, async () => {
    const options = JSON.parse(process.argv[2] ?? '{}') as Options;
    process.stdout.write(`${JSON.stringify({ started: true })}\n`);
    process.stdout.write(`${JSON.stringify(await work(options))}\n`);
  });
}
