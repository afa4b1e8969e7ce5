/**
 * How a bench child process (figures 3, 5 and 6 run parts of themselves in one, see processes.ts's
 * runTsChild) ends: exit 0 when `main` resolves, else its error on stderr and exit 1.
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
