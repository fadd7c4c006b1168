/**
 * The header fields of one SIP message, looked up by case-insensitive full name
 * (RFC 3261 §7.3.1). Compact forms (§7.3.3) are expanded when a message is parsed.
 *
 * One value per field name, as drachtio keeps them: rows of a list header are joined
 * by commas, which §7.3.1 declares equivalent. The authentication headers are the
 * exception: their rows cannot be joined, so a built message refuses a repeated one;
 * received ones arrive joined by drachtio, and digest.ts's parseDigestChallenges()
 * takes them apart again.
 */
import { TOKEN, splitOutsideQuotes } from '../header-syntax';

export type HeaderRow = readonly [name: string, value: string];

export class SipHeaders implements Iterable<HeaderRow> {
  private constructor(private readonly fields: ReadonlyMap<string, string>) {}

  /**
   * Headers for a message we build. Throws TypeError on a name that is not a token,
   * a value with CR/LF (it would inject header rows), or a repeated header that
   * cannot be joined into one row.
   */
  static of(rows: Iterable<HeaderRow>): SipHeaders {
    const fields = new Map<string, string>();
    for (const [name, value] of rows) {
      const key = checkedKey(name, value);
      const previous = fields.get(key);
      if (previous !== undefined && !LIST_HEADERS.has(key)) {
        throw new TypeError(`SIP header ${name} given twice; it is not a comma list (RFC 3261 §7.3.1)`);
      }
      fields.set(key, previous === undefined ? value : `${previous}, ${value}`);
    }
    return new SipHeaders(fields);
  }

  /** Headers as drachtio parsed them: folded lines are unfolded (§7.3.1) and values trimmed. */
  static fromParsed(parsed: Readonly<Record<string, string>>): SipHeaders {
    const fields = new Map<string, string>();
    for (const name of Object.keys(parsed)) {
      const key = name.toLowerCase();
      const value = unfold(parsed[name]);
      const previous = fields.get(key);
      fields.set(key, previous === undefined ? value : `${previous},${value}`);
    }
    return new SipHeaders(fields);
  }

  /** The field value; several rows come joined by commas. */
  get(name: string): string | undefined {
    return this.fields.get(name.toLowerCase());
  }

  /**
   * The field's elements: each entry of a comma list (Contact, Via, Route, ...; §7.3.1),
   * otherwise the one value.
   */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    const value = this.fields.get(key);
    if (value === undefined) return [];
    return LIST_HEADERS.has(key) ? splitOutsideQuotes(value, ',') : [value];
  }

  has(name: string): boolean {
    return this.fields.has(name.toLowerCase());
  }

  /** Rows as lower-case name and value, in insertion order. */
  [Symbol.iterator](): Iterator<HeaderRow> {
    return this.fields.entries();
  }
}

const TOKEN_NAME = new RegExp(`^${TOKEN}$`);

/** A CR, LF or NUL: §7.3.1 allows none in a header value once folding is undone. */
export function breaksRow(value: string): boolean {
  return /[\r\n\0]/.test(value);
}

/** The lower-case key of a row we are to send; TypeError when it would not make one valid header row. */
function checkedKey(name: string, value: string): string {
  if (breaksRow(value)) throw new TypeError(`SIP header ${name}: value contains CR, LF or NUL`);
  let key = VALID_NAMES.get(name);
  if (key === undefined) {
    if (!TOKEN_NAME.test(name)) throw new TypeError(`SIP header name '${name}' is not a token`);
    key = name.toLowerCase();
    // The names we send are a handful of constants: remembered, not checked per request.
    if (VALID_NAMES.size < MAX_REMEMBERED_NAMES) VALID_NAMES.set(name, key);
  }
  return key;
}

/** Header names already checked, with their keys. */
const VALID_NAMES = new Map<string, string>();
const MAX_REMEMBERED_NAMES = 64;

/** Headers whose grammar is a comma list (RFC 3261 §20 `#` / `1#` rules, RFC 3327, RFC 3608). */
const LIST_HEADERS: ReadonlySet<string> = new Set([
  'accept', 'accept-encoding', 'accept-language', 'alert-info', 'allow', 'call-info', 'contact',
  'content-encoding', 'content-language', 'error-info', 'in-reply-to', 'proxy-require',
  'record-route', 'require', 'route', 'supported', 'unsupported', 'via', 'warning',
  'path', 'service-route',
]);

function unfold(value: string): string {
  return (value.includes('\n') ? value.replace(/\r?\n[ \t]+/g, ' ') : value).trim();
}
