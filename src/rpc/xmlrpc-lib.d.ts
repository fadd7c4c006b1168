/**
 * Types for the two internals of the `xmlrpc` package this daemon uses directly (its
 * Server class is not used; see xmlrpc-server.ts). @types/xmlrpc covers only the
 * package's entry point.
 */
declare module 'xmlrpc/lib/serializer' {
  export function serializeMethodCall(method: string, params?: unknown[], encoding?: string): string;
  export function serializeMethodResponse(value: unknown): string;
  export function serializeFault(fault: unknown): string;
}

declare module 'xmlrpc/lib/deserializer' {
  import type { Readable } from 'node:stream';

  class Deserializer {
    constructor(encoding?: string);
    /** The values parsed so far (internal). */
    protected stack: unknown[];
    /** Parses the text of a <double> and pushes it (internal). */
    protected endDouble(data: string): void;
    deserializeMethodCall(
      stream: Readable,
      callback: (error: Error | null | undefined, methodName?: string, params?: unknown[]) => void,
    ): void;
  }
  export = Deserializer;
}
