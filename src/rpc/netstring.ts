/**
 * Netstring framing (`<length>:<payload>,`) as SEMS's jsonrpc module speaks it
 * (RpcPeer.cpp): the length is decimal digits (leading zeros allowed, at most 10 of
 * them), the payload is exactly that many bytes, the comma is mandatory. A frame that
 * does not start with a digit (e.g. bare JSON) is a protocol error there and here.
 *
 * Deliberately more tolerant than SEMS in one point: white space between frames is
 * skipped, so a client that ends each frame with a newline still works.
 */

/** SEMS's MAX_NS_LEN_SIZE. */
const MAX_LENGTH_DIGITS = 10;

export class NetstringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetstringError';
  }
}

export interface DecodeResult {
  /** Complete payloads, in arrival order. */
  frames: Buffer[];
  /** Set once the stream is unusable; nothing after the bad byte is decoded. */
  error?: NetstringError;
}

const COLON = 0x3a;
const COMMA = 0x2c;
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;

/** Incremental decoder for one connection; never holds more than one frame's payload. */
export class NetstringDecoder {
  private state: 'length' | 'payload' | 'comma' | 'failed' = 'length';
  private length = 0;
  private digits = 0;
  private remaining = 0;
  private parts: Buffer[] = [];

  constructor(private readonly maxPayloadBytes: number) {}

  /** True while a frame has begun but is not complete (used for slow-client deadlines). */
  get inFrame(): boolean {
    return this.state === 'payload' || this.state === 'comma' || (this.state === 'length' && this.digits > 0);
  }

  push(chunk: Buffer): DecodeResult {
    const frames: Buffer[] = [];
    let i = 0;
    const fail = (message: string): DecodeResult => {
      this.state = 'failed';
      this.parts = [];
      return { frames, error: new NetstringError(message) };
    };
    while (i < chunk.length) {
      switch (this.state) {
        case 'failed':
          return { frames };
        case 'length': {
          const b = chunk[i++] as number;
          if (isDigit(b)) {
            this.length = this.length * 10 + (b - 0x30);
            if (++this.digits > MAX_LENGTH_DIGITS) return fail('netstring length has too many digits');
            if (this.length > this.maxPayloadBytes) {
              return fail(`netstring longer than the limit of ${this.maxPayloadBytes} bytes`);
            }
          } else if (b === COLON && this.digits > 0) {
            this.remaining = this.length;
            this.state = this.remaining > 0 ? 'payload' : 'comma';
          } else if (!(isSpace(b) && this.digits === 0)) {
            return fail('invalid character in netstring length');
          }
          break;
        }
        case 'payload': {
          const take = Math.min(this.remaining, chunk.length - i);
          this.parts.push(chunk.subarray(i, i + take));
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'comma';
          break;
        }
        case 'comma': {
          if (chunk[i++] !== COMMA) return fail("netstring not terminated with ','");
          frames.push(Buffer.concat(this.parts));
          this.parts = [];
          this.length = 0;
          this.digits = 0;
          this.state = 'length';
          break;
        }
      }
    }
    return { frames };
  }
}

export function encodeNetstring(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]);
}
