/**
 * Crash safety (issue 14): SIGKILL half-way through a mass start of 50 000 accounts,
 * then a restart (test/support/crash-scenario.ts says what is proved). It takes about
 * 2 minutes on a shared 2-core host (load ~10): inside the CI budget, so it runs at
 * full scale in `make test`.
 */
import { crashDuringMassStart } from '../support/crash-scenario';

describe('crash safety: SIGKILL during a mass start (MariaDB + Kamailio)', function () {
  this.timeout(1_800_000);

  it('50 000 accounts: after the restart every account is ACTIVE with one binding, no account ever had two transactions at once', async () => {
    const figures = await crashDuringMassStart(50_000);
    process.stdout.write(`      ${JSON.stringify(figures)}\n`);
  });
});
