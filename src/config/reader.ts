/**
 * Reads SEMS configuration files with the semantics of SEMS's AmConfigReader.
 *
 * - one `key=value` per line; leading white space ignored; a line whose first
 *   non-blank character is `#` is a comment; CR characters are dropped (CRLF files);
 * - the key ends at `=` or white space; white space around `=` is allowed;
 * - a value starting with `"` runs to the next `"` not preceded by a backslash and is
 *   kept verbatim (`=`, `;`, `#` and the backslash included); otherwise the value ends
 *   at white space or `#` — SEMS drops the rest of such a line silently, we warn;
 * - `@ file` includes another file (relative paths against plugin_config_path);
 * - a later duplicate wins (with a warning, as in SEMS).
 *
 * The `ini` package is not used for reading: it treats `;` as a comment start and
 * `[x]` as a section, and JSON-decodes quoted values, all of which would corrupt real
 * `joined_query` values (test/unit/config-reader.test.ts shows it).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ParseWarning {
  line: number;
  message: string;
}

export interface ParseOptions {
  /** Name for messages (a path, usually). */
  source?: string;
  /** Base folder for relative `@include` lines. */
  includeBase?: string;
  /** Called for each warning (duplicate key, ignored trailing text). */
  onWarning?: (w: ParseWarning & { source: string }) => void;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** A parsed configuration file: string values by key, with typed getters. */
export class ConfigFile {
  constructor(
    readonly source: string,
    private readonly values: Map<string, string>,
  ) {}

  static parse(text: string, opts: ParseOptions = {}): ConfigFile {
    const values = new Map<string, string>();
    parseInto(values, text, opts, new Set());
    return new ConfigFile(opts.source ?? '(string)', values);
  }

  static load(path: string, opts: Omit<ParseOptions, 'source'> = {}): ConfigFile {
    return ConfigFile.parse(readConfigText(path), { ...opts, source: path });
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  keys(): string[] {
    return [...this.values.keys()];
  }

  /** The raw value, or the default when the key is absent. */
  string(key: string, def: string): string;
  string(key: string): string | undefined;
  string(key: string, def?: string): string | undefined {
    return this.values.get(key) ?? def;
  }

  /** First key present among aliases (e.g. joined_query / joined_query_subscribers). */
  firstOf(...keys: string[]): { key: string; value: string } | undefined {
    for (const key of keys) {
      const value = this.values.get(key);
      if (value !== undefined) return { key, value };
    }
    return undefined;
  }

  /** SEMS booleans: the literal `yes` is true; anything else is false. */
  bool(key: string, def: boolean): boolean {
    const v = this.values.get(key);
    return v === undefined ? def : v === 'yes';
  }

  /** SEMS's stricter booleans (stderr, fork): `yes` or `no` in any case; anything else is an error naming the key. */
  yesNo(key: string, def: boolean): boolean {
    const v = this.values.get(key);
    if (v === undefined) return def;
    const word = v.toLowerCase();
    if (word !== 'yes' && word !== 'no') throw new ConfigError(`${this.source}: '${key}' must be yes or no, got '${v}'`);
    return word === 'yes';
  }

  /** A non-negative integer; a value that does not parse is an error naming the key. */
  uint(key: string, def: number): number;
  uint(key: string): number | undefined;
  uint(key: string, def?: number): number | undefined {
    const v = this.values.get(key);
    if (v === undefined) return def;
    if (!/^\+?\d+$/.test(v.trim())) {
      throw new ConfigError(`${this.source}: '${key}' must be a non-negative integer, got '${v}'`);
    }
    const n = Number(v.trim());
    if (!Number.isSafeInteger(n)) throw new ConfigError(`${this.source}: '${key}' is out of range: '${v}'`);
    return n;
  }

  /** A decimal number; a value that does not parse is an error naming the key. */
  number(key: string, def: number): number;
  number(key: string): number | undefined;
  number(key: string, def?: number): number | undefined {
    const v = this.values.get(key);
    if (v === undefined) return def;
    const t = v.trim();
    const n = Number(t);
    if (t === '' || !Number.isFinite(n)) {
      throw new ConfigError(`${this.source}: '${key}' must be a number, got '${v}'`);
    }
    return n;
  }

  /** A `;`-separated list, entries trimmed, empty entries dropped. */
  list(key: string): string[] | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    return v.split(';').map((s) => s.trim()).filter((s) => s.length > 0);
  }
}

export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`cannot read configuration file '${path}': ${e.code ?? ''} ${e.message}`.trim());
  }
}

function parseInto(values: Map<string, string>, text: string, opts: ParseOptions, seen: Set<string>): void {
  const source = opts.source ?? '(string)';
  const warn = (line: number, message: string): void => opts.onWarning?.({ source, line, message });
  const lines = text.replace(/\r/g, '').split('\n');

  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const syntax = (why: string): ConfigError => new ConfigError(`${source}:${lineNo}: syntax error: ${why}`);
    let i = 0;
    while (isSpace(raw[i])) i++;
    if (i >= raw.length || raw[i] === '#') return;

    if (raw[i] === '@') {
      const name = raw.slice(i + 1).trim().split(/[\s#]/)[0];
      if (!name) throw syntax('include without a file name');
      const path = isAbsolute(name) ? name : join(opts.includeBase ?? values.get('plugin_config_path') ?? '.', name);
      if (seen.has(path)) throw syntax(`include loop through '${path}'`);
      seen.add(path);
      parseInto(values, readConfigText(path), { ...opts, source: path }, seen);
      seen.delete(path);
      return;
    }

    const keyStart = i;
    while (i < raw.length && raw[i] !== '=' && !isSpace(raw[i])) i++;
    const key = raw.slice(keyStart, i);
    while (isSpace(raw[i])) i++;
    if (key === '') throw syntax('missing key before =');
    if (raw[i] !== '=') throw syntax(`expected '=' after '${key}'`);
    i++;
    while (isSpace(raw[i])) i++;

    let value: string;
    if (raw[i] === '"') {
      const start = ++i;
      while (i < raw.length && !(raw[i] === '"' && raw[i - 1] !== '\\')) i++;
      if (i >= raw.length) throw syntax(`unterminated quoted value for '${key}'`);
      value = raw.slice(start, i);
      i++;
    } else {
      const start = i;
      while (i < raw.length && raw[i] !== '#' && !isSpace(raw[i])) i++;
      value = raw.slice(start, i);
    }
    const rest = raw.slice(i).trim();
    if (rest !== '' && !rest.startsWith('#')) {
      warn(lineNo, `'${key}': ignoring '${rest}' after the value (quote values that contain spaces)`);
    }
    if (values.has(key)) warn(lineNo, `'${key}' set again; the later value wins`);
    values.set(key, value);
  });
}
