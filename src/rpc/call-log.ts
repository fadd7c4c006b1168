/**
 * Log-safe rendering of DI call arguments and results.
 *
 * SEMS prints whole argument lists at debug level (debug_server_params), which puts
 * SIP passwords into the log. Here every secret is replaced before printing, at every
 * level: positional secrets of known functions, and struct members that look like one.
 */
import { redact } from '../process/log';
import { isDiStruct, type DiValue } from '../core/di';

/** Argument positions holding a password, by `interface.function`. */
const SECRET_POSITIONS: Readonly<Record<string, readonly number[]>> = {
  'db_reg_agent.createRegistration': [2],
  'db_reg_agent.updateRegistration': [2],
};

const SECRET_MEMBER = /pass|secret/i;
/** Keeps a debug line readable when a client sends a huge argument list. */
const MAX_PRINTED_CHARS = 2000;

function redactMembers(value: DiValue): DiValue {
  if (Array.isArray(value)) return value.map(redactMembers);
  if (!isDiStruct(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_MEMBER.test(k) ? redactValue(v) : redactMembers(v)]),
  );
}

function redactValue(value: DiValue): string {
  return redact(typeof value === 'string' ? value : value === null ? null : String(value));
}

/** The arguments with every secret replaced by a fixed marker. */
export function redactArgs(factory: string, fn: string, args: readonly DiValue[]): DiValue[] {
  const secret = new Set(SECRET_POSITIONS[`${factory}.${fn}`] ?? []);
  return args.map((arg, i) => (secret.has(i) ? redactValue(arg) : redactMembers(arg)));
}

/** Compact JSON for a log line; never throws (deep nesting, odd values). */
export function printForLog(value: DiValue | readonly DiValue[]): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    return '(unprintable)';
  }
  return text.length > MAX_PRINTED_CHARS ? `${text.slice(0, MAX_PRINTED_CHARS)}…(${text.length} chars)` : text;
}

/** A call's arguments, redacted and printed; never throws. */
export function printArgsForLog(factory: string, fn: string, args: readonly DiValue[]): string {
  try {
    return printForLog(redactArgs(factory, fn, args));
  } catch {
    return '(unprintable)';
  }
}
