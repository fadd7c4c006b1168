/**
 * Crash safety (issue 14): SIGKILL half-way through a mass start of 10 000 accounts,
 * then a restart (test/support/crash-scenario.ts says what is proved). The 50 000
 * account run is in test/long/crash-safety.long.test.ts.
 */
import { crashDuringMassStart } from '../support/crash-scenario';

describe('crash safety: SIGKILL during a mass start (MariaDB + Kamailio)', function () {
  this.timeout(600_000);

  it('10 000 accounts: after the restart every account is ACTIVE with one binding, no account ever had two transactions at once', async () => {
    const figures = await crashDuringMassStart(10_000);
    process.stdout.write(`      ${JSON.stringify(figures)}\n`);
  });
});
