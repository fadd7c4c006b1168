/**
 * Reads SEMS configuration files with the semantics of SEMS's AmConfigReader.
 *
 * - one `key=value` per line; leading white space ignored; a line whose first
 *   non-blank character is `#` is a comment; CR characters are dropped (CRLF files);
 * - the key ends at `=` or white space; white space around `=` is allowed;
 * - a value starting with `"` runs to the next `"` not preceded by a backslash and is
 *   kept verbatim (`=`, `;`, `#` and the backslash included); otherwise the value ends
 *   at white space or `#` — SEMS drops the rest of such a line silently, we warn;
 * - `@ file` includes another file; a relative name is taken against plugin_config_path
 *   as it stands at that line (SEMS's default when unset), itself taken against the
 *   folder of the top file when relative — never against the working directory;
 * - a later duplicate wins (with a warning, as in SEMS).
 *
 * The `ini` package is not used for reading: it treats `;` as a comment start and
 * `[x]` as a section, and JSON-decodes quoted values, all of which would corrupt real
 * `joined_query` values (test/unit/config-reader.test.ts shows it).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** SEMS's plugin_config_path when sems.conf sets none. */
export const DEFAULT_PLUGIN_CONFIG_PATH = '/etc/sems/etc/';

/** plugin_config_path as a folder: a relative value counts from the folder of the file that sets it. */
export function pluginConfigFolder(configFile: string, value: string | undefined): string {
  return resolve(dirname(resolve(configFile)), value ?? DEFAULT_PLUGIN_CONFIG_PATH);
}

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
  /** Base folder for relative `@include` lines (plugin files); default: see the file comment. */
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
    parseInto(values, text, opts, opts.source ?? '(string)', new Set());
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
    // node's text repeats the code and the path: "ENOENT: no such file or directory, open '<path>'".
    const reason = e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/s, '');
    throw new ConfigError(`cannot read configuration file '${path}': ${reason}${e.code ? ` (${e.code})` : ''}`);
  }
}

function parseInto(values: Map<string, string>, text: string, opts: ParseOptions, topFile: string, seen: Set<string>): void {
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
      const base = opts.includeBase ?? pluginConfigFolder(topFile, values.get('plugin_config_path'));
      const path = isAbsolute(name) ? name : join(base, name);
      if (seen.has(path)) throw syntax(`include loop through '${path}'`);
      seen.add(path);
      parseInto(values, readConfigText(path), { ...opts, source: path }, topFile, seen);
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
      // The ignored text is not shown: it may be the rest of a password (mysql_passwd=two words).
      warn(lineNo, `'${key}': ignoring ${rest.length} character(s) after the value (quote values that contain spaces)`);
    }
    if (values.has(key)) warn(lineNo, `'${key}' set again; the later value wins`);
    values.set(key, value);
  });
}
