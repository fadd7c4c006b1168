/**
 * Issue 14, item 1, full size: 10 000 accounts refreshing every 30 s, the database
 * hung for 20 s and refused for 40 s (test/support/db-outage.ts). `make test-long`.
 */
import { describeOutage } from '../support/db-outage';

describeOutage('database outage, full size (MariaDB proxy + Kamailio)', {
  accounts: 10_000, expiresSeconds: 60, hangSeconds: 20, refuseSeconds: 40,
}, (figures) => process.stderr.write(`      db outage figures: ${JSON.stringify(figures)}\n`));
