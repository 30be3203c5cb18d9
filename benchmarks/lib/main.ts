/**
 * Runs a benchmark entry point's main function. Every process it starts is stopped on Ctrl-C
 * or SIGTERM, after an error and at the end; the exit status is what main answers (0 when it
 * answers nothing), or 1 when it fails.
 */
import { stopAll, stopAllOnSignals } from '@volley/runtime';

export function runMain(label: string, main: () => Promise<number | void>, graceMs = 2000): void {
  stopAllOnSignals(label, graceMs);
  void main()
    .then(
      (code) => code ?? 0,
      (err: unknown) => {
        process.stderr.write(
          `${label}: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
        return 1;
      },
    )
    .then(async (code) => {
      await stopAll(graceMs);
      process.exit(code);
    });
}
