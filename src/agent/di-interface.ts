/**
 * The `db_reg_agent` DI interface (SPEC §5b): argument checking in SEMS's terms
 * (count → DiArgCountError, type → DiTypeError) in front of the engine.
 *
 * Both argument forms are accepted: the upstream README's (4–5 and 1) and the
 * sipwise fork's (7 and 2), so scripts written for either work (SPEC §8).
 */
import { DiArgCountError, DiNotImplementedError, DiTypeError, type DiInterface, type DiValue } from '../core/di';
import { logger } from '../process/log';
import type { AccountData, AccountType } from './account';

const log = logger('db_reg_agent');

/**
 * What the DI functions need from the engine. The first four only queue work and
 * return nothing, so they can be sent to the engine's thread without waiting for it;
 * the two questions may be answered from there later (a Promise).
 */
export interface RegistrationControl {
  create(type: AccountType, id: number, data: AccountData): void;
  update(type: AccountType, id: number, data: AccountData): void;
  refresh(type: AccountType, id: number): void;
  remove(type: AccountType, id: number): void;
  /** Extension (status): undefined for an unknown account. */
  describe(type: AccountType, id: number): Answer<Record<string, DiValue> | undefined>;
  statistics(): Answer<Record<string, DiValue>>;
}

type Answer<T> = T | Promise<T>;

/** The methods of RegistrationControl that only queue work. */
export const QUEUEING_CONTROL_METHODS = ['create', 'update', 'refresh', 'remove'] as const;
/** The methods of RegistrationControl that answer a question. */
export const ANSWERING_CONTROL_METHODS = ['describe', 'statistics'] as const;

const OK: DiValue = [200, 'OK'];
const orNotFound = (described: DiValue | undefined): DiValue => described ?? [404, 'Not Found'];

export const DB_REG_AGENT_FUNCTIONS = [
  'createRegistration',
  'updateRegistration',
  'removeRegistration',
  'refreshRegistration',
  'getRegistration',
  'getStatistics',
] as const;

function argCount(args: DiValue[], min: number, max: number): void {
  if (args.length < min || args.length > max) {
    throw new DiArgCountError(`expected ${min}..${max} arguments, got ${args.length}`);
  }
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/**
 * AmArg Int, a C int: a whole number in the signed 32-bit range (XML-RPC <int>/<i4>, a
 * JSON integer). A larger id would be accepted and then fail every status write (out of
 * range for the id columns), so it is refused at once.
 */
function intArg(args: DiValue[], i: number, name: string): number {
  const v = args[i];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < INT_MIN || v > INT_MAX) {
    throw new DiTypeError(`${name} must be an integer in the signed 32-bit range`);
  }
  return v;
}

function stringArg(args: DiValue[], i: number, name: string): string {
  const v = args[i];
  if (typeof v !== 'string') throw new DiTypeError(`${name} must be a string`);
  return v;
}

/** Optional string: absent or null is ''. */
function optionalStringArg(args: DiValue[], i: number, name: string): string {
  return args[i] === undefined || args[i] === null ? '' : stringArg(args, i, name);
}

/** SEMS's third type, handled like a subscriber everywhere. */
const UNDEFINED_TYPE = 'undefined';

/** create/update: as in SEMS, a type other than 'peering' and 'subscriber' is taken as 'undefined'. */
function registrationTypeArg(args: DiValue[], i: number): AccountType {
  const v = optionalStringArg(args, i, 'type');
  if (v === 'peering') return 'peering';
  if (v !== '' && v !== 'subscriber' && v !== UNDEFINED_TYPE) log.info(`type '${v}' is neither 'subscriber' nor 'peering'; taken as subscriber`);
  return 'subscriber';
}

/**
 * remove/refresh/get: '', 'subscriber' and 'undefined' are a subscriber. SEMS acts on no
 * known account for any other text (undefined behaviour); refusing it keeps a misspelt
 * 'peering' from de-registering the subscriber with the same id.
 */
function idTypeArg(args: DiValue[], i: number): AccountType {
  const v = optionalStringArg(args, i, 'type');
  if (v === 'peering') return 'peering';
  if (v === '' || v === 'subscriber' || v === UNDEFINED_TYPE) return 'subscriber';
  throw new DiTypeError(`type must be 'subscriber', 'peering' or 'undefined', got '${v}'`);
}

/** id, user, pass, realm [, contact [, auth_user [, type]]] */
export function parseRegistrationArgs(args: DiValue[]): { type: AccountType; id: number; data: AccountData } {
  argCount(args, 4, 7);
  const id = intArg(args, 0, 'id');
  const data: AccountData = {
    user: stringArg(args, 1, 'user'),
    password: stringArg(args, 2, 'pass'),
    realm: stringArg(args, 3, 'realm'),
    contact: optionalStringArg(args, 4, 'contact'),
    authUser: optionalStringArg(args, 5, 'auth_user'),
  };
  return { type: registrationTypeArg(args, 6), id, data };
}

/** id [, type] */
export function parseIdArgs(args: DiValue[]): { type: AccountType; id: number } {
  argCount(args, 1, 2);
  return { id: intArg(args, 0, 'id'), type: idTypeArg(args, 1) };
}

export class DbRegAgentDi implements DiInterface {
  constructor(private readonly control: RegistrationControl) {}

  functions(): string[] {
    return [...DB_REG_AGENT_FUNCTIONS];
  }

  invoke(fn: string, args: DiValue[]): Answer<DiValue> {
    switch (fn) {
      case 'createRegistration': {
        const { type, id, data } = parseRegistrationArgs(args);
        this.control.create(type, id, data);
        return OK;
      }
      case 'updateRegistration': {
        const { type, id, data } = parseRegistrationArgs(args);
        this.control.update(type, id, data);
        return OK;
      }
      case 'refreshRegistration': {
        const { type, id } = parseIdArgs(args);
        this.control.refresh(type, id);
        return OK;
      }
      case 'removeRegistration': {
        const { type, id } = parseIdArgs(args);
        this.control.remove(type, id);
        return OK;
      }
      case 'getRegistration': {
        const { type, id } = parseIdArgs(args);
        const described = this.control.describe(type, id);
        return described instanceof Promise ? described.then(orNotFound) : orNotFound(described);
      }
      case 'getStatistics':
        argCount(args, 0, 0);
        return this.control.statistics();
      case '_list':
        return this.functions();
      default:
        throw new DiNotImplementedError(fn);
    }
  }
}
