/**
 * Lexical helpers shared by the SIP header parsers (RFC 3261 §25.1, RFC 7235 §2.1):
 * quoted-strings with quoted-pairs, and separator-delimited lists whose separators
 * do not count inside a quoted-string or inside `<...>`.
 */

/** RFC 3261 §25.1 token characters. */
export const TOKEN = "[A-Za-z0-9.!%*_+`'~-]+";

/**
 * Splits `text` at each `separator` that is outside quoted-strings and angle brackets.
 * Items are trimmed; empty items are dropped (list syntax allows them, RFC 7230 §7).
 */
export function splitOutsideQuotes(text: string, separator: ',' | ';'): string[] {
  const items: string[] = [];
  let start = 0;
  let inQuotes = false;
  let angleDepth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuotes = false;
    } else if (ch === '"') {
      inQuotes = true;
    } else if (ch === '<') {
      angleDepth++;
    } else if (ch === '>' && angleDepth > 0) {
      angleDepth--;
    } else if (ch === separator && angleDepth === 0) {
      pushTrimmed(items, text.slice(start, i));
      start = i + 1;
    }
  }
  pushTrimmed(items, text.slice(start));
  return items;
}

function pushTrimmed(items: string[], item: string): void {
  const trimmed = item.trim();
  if (trimmed !== '') items.push(trimmed);
}

/** Removes the quotes of a quoted-string and resolves its quoted-pairs; other text is returned as is. */
export function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  const inner = value.slice(1, -1);
  // Checked first: quoted-pairs are rare, and every digest parameter passes here.
  return inner.includes('\\') ? inner.replace(/\\(.)/gs, '$1') : inner;
}

/** Wraps `value` in a quoted-string, escaping `"` and `\`. */
export function quote(value: string): string {
  return value.includes('"') || value.includes('\\') ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

/** Compiled once: parameters are parsed several times per received message. */
const PARAM = new RegExp(`^(${TOKEN})\\s*(?:=\\s*(.*))?$`, 's');

/**
 * Parses `name[=value]` (white space allowed around `=`): the name lower-cased (parameter
 * names are case-insensitive), the value unquoted, null for a flag. undefined if malformed.
 */
export function parseParam(item: string): [string, string | null] | undefined {
  const match = PARAM.exec(item);
  if (!match) return undefined;
  return [match[1].toLowerCase(), match[2] === undefined ? null : unquote(match[2].trim())];
}

/** V8 copies substrings shorter than this instead of slicing them (SlicedString::kMinLength). */
const SLICE_MIN_LENGTH = 13;

/**
 * A copy of `text` that does not keep a received message alive. V8 makes substrings
 * (every parsed header value) without copying, as views that pin their parent string:
 * a nonce, a reason or a Contact list kept for a registration's life would otherwise
 * keep the whole reply it came in (0.5 kB, up to 64 kB) alive, per account.
 */
export function detached(text: string): string {
  if (text.length < SLICE_MIN_LENGTH) return text;
  return Buffer.from(text, 'utf8').toString('utf8');
}
