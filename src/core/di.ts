/**
 * Dynamic invocation (DI): SEMS's small dispatch interface between modules.
 *
 * A module exports an interface by name (`db_reg_agent`); the XML-RPC and JSON-RPC
 * servers reach the engine only through `invoke(function, args)`. Argument errors are
 * typed so that each server can render them as the fault SEMS would send.
 */

/**
 * An AmArg Double: a number sent as floating point (XML-RPC <double>). Kept apart from a
 * plain number, an Int, because SEMS's argument checks tell them apart: no integer
 * argument takes <double>110.0</double>. JSON does not tell 110.0 from 110, so JSON-RPC
 * numbers are all plain.
 */
export class DiDouble {
  constructor(readonly value: number) {}

  /** JSON (replies, log lines) shows the number. */
  toJSON(): number {
    return this.value;
  }
}

/** What an AmArg can hold, as far as RPC clients can express it. */
export type DiValue = number | DiDouble | string | boolean | null | DiValue[] | { [key: string]: DiValue };

/** An AmArg Struct: an object that is neither an array nor a DiDouble. */
export function isDiStruct(value: DiValue | undefined): value is { [key: string]: DiValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof DiDouble);
}

export interface DiInterface {
  /** Function names, as `_list` returns them. */
  functions(): string[];
  /** Runs a function; resolves once the action is queued, not when it completes. */
  invoke(fn: string, args: DiValue[]): DiValue | Promise<DiValue>;
}

/** The function does not exist (SEMS: AmDynInvoke::NotImplemented). */
export class DiNotImplementedError extends Error {
  constructor(readonly fn: string) {
    super(`AmDynInvoke::NotImplemented: ${fn}`);
    this.name = 'DiNotImplementedError';
  }
}

/** Wrong number of arguments (SEMS: AmArg::OutOfBoundsException). */
export class DiArgCountError extends Error {
  constructor(readonly detail = '') {
    super('AmArg out of bounds - parameter number mismatch.');
    this.name = 'DiArgCountError';
  }
}

/** An argument of the wrong type (SEMS: AmArg::TypeMismatchException). */
export class DiTypeError extends Error {
  constructor(readonly detail = '') {
    super('Type mismatch in arguments.');
    this.name = 'DiTypeError';
  }
}

/** Interface name → implementation, like SEMS's plugin factory lookup. */
export class DiRegistry {
  private readonly interfaces = new Map<string, DiInterface>();

  register(name: string, iface: DiInterface): void {
    this.interfaces.set(name, iface);
  }

  get(name: string): DiInterface | undefined {
    return this.interfaces.get(name);
  }

  names(): string[] {
    return [...this.interfaces.keys()];
  }
}

/**
 * The interface cannot take the call now (the accounts still loading, too many calls
 * waiting for them); the same call later can succeed. XML-RPC 500, JSON-RPC -32000
 * "Server error" with the message as data (faults.ts): SEMS's codes for other failures.
 */
export class DiUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiUnavailableError';
  }
}
