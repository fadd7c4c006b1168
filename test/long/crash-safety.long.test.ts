/**
 * Crash safety at full scale (issue 14, `make test-long`): SIGKILL half-way through a
 * mass start of 50 000 accounts, then a restart (test/support/crash-scenario.ts says
 * what is proved; test/integration/crash-safety.test.ts runs 10 000 in `make test`).
 */
import { crashDuringMassStart } from '../support/crash-scenario';

describe('crash safety: SIGKILL during a mass start of 50 000 accounts (MariaDB + Kamailio)', function () {
  this.timeout(1_800_000);

  it('after the restart every account is ACTIVE with one binding, no account ever had two transactions at once', async () => {
    const figures = await crashDuringMassStart(50_000);
    process.stdout.write(`      ${JSON.stringify(figures)}\n`);
  });
});
