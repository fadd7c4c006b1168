/** The database layer: accounts in (account-source), registration status out (status-writer). */
export { type AccountKey, type AccountType, keyColumnOf } from './account-key';
export { type AccountQuery, type AccountRow, AccountQueryError } from './account-row';
export { openAccountStream, type AccountStream, type AccountStreamOptions } from './account-source';
export { readDbClock, secondsFromDbNow, parseDbDateTime, type DbClock } from './db-clock';
export { isTransientDbError, describeDbError } from './db-errors';
export { createDbPool, type DbPool, type DbPoolOptions } from './pool';
export { RegistrationStatus } from './registration-status';
export { RegistrationStore, type UpdateOutcome } from './registration-store';
export { type Registered, type RegistrationUpdate } from './registration-update';
export { StatusWriter, type StatusWriterOptions, type StatusWriterStats } from './status-writer';
