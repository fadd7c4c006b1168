/**
 * Where test fixtures live, and the throwaway TLS certificate test peers present.
 *
 * Compiled tests run from build/ or build-<name>/, so fixtures are found relative to
 * the project root (the first folder upwards holding package.json), never __dirname.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let cachedRoot: string | undefined;

export function projectRoot(): string {
  if (cachedRoot === undefined) {
    let dir = __dirname;
    for (let depth = 0; depth < 10 && !fs.existsSync(path.join(dir, 'package.json')); depth++) {
      dir = path.dirname(dir);
    }
    if (!fs.existsSync(path.join(dir, 'package.json'))) throw new Error(`no package.json above ${__dirname}`);
    cachedRoot = dir;
  }
  return cachedRoot;
}

export function fixturePath(...parts: string[]): string {
  return path.join(projectRoot(), 'test', 'fixtures', ...parts);
}

/**
 * A fresh private temp dir (mode 0700): <tmp>/harness-<our pid>-<prefix>-XXXXXX. The pid
 * lets a later run recognise what a crashed run left behind (see peer-process.ts).
 */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `harness-${process.pid}-${prefix}-`));
}

/** Matches a temp dir path made by makeTempDir; group 1 is the pid of the process that made it. */
export const TEMP_DIR_PATTERN = new RegExp(`${escapeRegExp(os.tmpdir())}/harness-(\\d+)-[\\w.-]+`);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Set HARNESS_KEEP_DIRS=1 to keep peers' temp dirs (configs, logs) after a run. */
export function keepTempDirs(): boolean {
  return process.env.HARNESS_KEEP_DIRS === '1';
}

export function removeDir(dir: string): void {
  if (!keepTempDirs()) fs.rmSync(dir, { recursive: true, force: true });
}

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate in PEM, to give to a TLS client as its only trusted CA. */
  certPem: string;
}

let certificate: TestCertificate | undefined;

/**
 * Self-signed EC certificate for CN=localhost, SAN localhost / 127.0.0.1 / ::1,
 * generated once per test process with openssl and deleted at exit. Nothing secret
 * is committed to the repository.
 */
export function testCertificate(): TestCertificate {
  if (certificate) return certificate;
  const dir = makeTempDir('tls');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '30', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10000 });
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  certificate = { certFile, keyFile, certPem: fs.readFileSync(certFile, 'utf8') };
  return certificate;
}
