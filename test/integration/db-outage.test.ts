/**
 * Issue 14, item 1, at CI size (test/support/db-outage.ts). The full size —
 * 10 000 accounts, 60 s — is test/long/db-outage.long.test.ts (`make test-long`).
 */
import { describeOutage } from '../support/db-outage';

describeOutage('database outage under refreshing registrations (MariaDB proxy + Kamailio)', {
  accounts: 2000, expiresSeconds: 20, hangSeconds: 10, refuseSeconds: 20,
}, (figures) => process.stderr.write(`      db outage figures: ${JSON.stringify(figures)}\n`));
