/**
 * Loaded by mocha (.mocharc.json "require"): tests log only errors unless
 * TEST_LOGLEVEL asks for more, so the report stays readable.
 */
import { setLogLevel } from '../../src/process/log';

setLogLevel(Number(process.env.TEST_LOGLEVEL ?? 0));
