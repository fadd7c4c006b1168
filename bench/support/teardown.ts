/**
 * Clean-up that runs however a benchmark ends: normally, on an exception, or on
 * Ctrl-C / SIGTERM. Steps run in reverse order of registration; a failing step does
 * not stop the others. (Kamailio and sipp are also killed by the harness's own exit
 * hook; the daemon and the databases are ours to end.)
 */

type Step = { what: string; run: () => Promise<unknown> | unknown };

export class Teardown {
  private steps: Step[] = [];
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };

  constructor() {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Registers a step; returns a function that runs it now (and removes it). */
  add(what: string, run: () => Promise<unknown> | unknown): () => Promise<void> {
    const step = { what, run };
    this.steps.push(step);
    return async () => {
      this.steps = this.steps.filter((s) => s !== step);
      await step.run();
    };
  }

  async run(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) {
      try {
        await step.run();
      } catch (err) {
        process.stderr.write(`clean-up '${step.what}' failed: ${(err as Error).message}\n`);
      }
    }
  }

  /** Runs what is left and stops listening for signals. */
  async close(): Promise<void> {
    await this.run();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
