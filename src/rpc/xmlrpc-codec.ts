/**
 * XML-RPC on the wire: parsing a methodCall body, rendering responses and faults (the
 * `xmlrpc` package's serialiser and deserialiser), and mapping values between XML-RPC
 * and DI the way xmlrpc2di does (XMLRPC2DI.cpp, xmlrpcval2amarg / amarg2xmlrpcval).
 */
import { Readable } from 'node:stream';
import Deserializer from 'xmlrpc/lib/deserializer';
import { serializeFault, serializeMethodResponse } from 'xmlrpc/lib/serializer';
import { DiDouble, type DiValue } from '../core/di';
import { XmlRpcFault, type XmlRpcFaultStruct } from './faults';

/** What a response can carry (no nil: SEMS answers an empty result with int 0). */
export type XmlRpcValue = number | string | boolean | XmlRpcValue[] | { [member: string]: XmlRpcValue };

export interface XmlRpcCall {
  method: string;
  params: unknown[];
}

/** The package's deserializer, except that a <double> is a DiDouble, as xmlrpc2di makes it an AmArg Double. */
class TypedDeserializer extends Deserializer {
  protected override endDouble(data: string): void {
    super.endDouble(data);
    this.stack.push(new DiDouble(this.stack.pop() as number));
  }
}

/** Parses a methodCall; anything else is fault -1 (xmlrpc++'s code for its own errors). */
export function parseMethodCall(body: Buffer): Promise<XmlRpcCall> {
  return new Promise((resolve, reject) => {
    new TypedDeserializer().deserializeMethodCall(Readable.from([body]), (error, method, params) => {
      if (error) {
        const reason = String(error.message).split('\n')[0];
        reject(new XmlRpcFault(-1, `invalid XML-RPC request: ${reason}`));
      } else {
        resolve({ method: method ?? '', params: params ?? [] });
      }
    });
  });
}

export function renderResponse(value: XmlRpcValue): string {
  return serializeMethodResponse(value);
}

export function renderFault(fault: XmlRpcFaultStruct): string {
  return serializeFault({ faultCode: fault.faultCode, faultString: xmlSafeText(fault.faultString) });
}

/** Characters XML 1.0 cannot carry (NUL, most C0 controls, lone surrogates) become U+FFFD. */
export function xmlSafeText(text: string): string {
  return text.replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD');
}

const unsupportedParameter = (): XmlRpcFault => new XmlRpcFault(400, 'unsupported parameter type');

/** One request parameter as a DI argument; dateTime and base64 are refused like SEMS. */
export function diFromXmlRpc(value: unknown): DiValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'number':
      return value;
    case 'object':
      if (value instanceof DiDouble) return value;
      if (Array.isArray(value)) return value.map(diFromXmlRpc);
      if (value instanceof Date || Buffer.isBuffer(value)) throw unsupportedParameter();
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, diFromXmlRpc(v)]));
    default:
      throw unsupportedParameter();
  }
}

/** A DI result as an XML-RPC value: arrays → array, objects → struct, null → int 0. */
export function xmlRpcFromDi(value: DiValue): XmlRpcValue {
  if (value === null) return 0;
  switch (typeof value) {
    case 'string':
      return xmlSafeText(value);
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`result ${value} cannot be sent over XML-RPC`);
      return value;
    default:
      if (value instanceof DiDouble) return xmlRpcFromDi(value.value);
      if (Array.isArray(value)) return value.map(xmlRpcFromDi);
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [xmlSafeText(k), xmlRpcFromDi(v)]));
  }
}
