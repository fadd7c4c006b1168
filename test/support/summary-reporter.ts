/**
 * Mocha's spec reporter plus the plain closing line CI reads: "N passed, N failed".
 * Without it a run with no tests could look like success.
 */
import Mocha from 'mocha';

const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    runner.on(EVENT_TEST_PASS, () => passed++);
    runner.on(EVENT_TEST_FAIL, () => failed++);
    runner.once(EVENT_RUN_END, () => {
      // Registered after the spec reporter's epilogue, so this is the last line.
      process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
    });
  }
}

export = SummaryReporter;
