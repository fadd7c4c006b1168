/**
 * Cutting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3): a message is its
 * header section up to the empty line plus Content-Length bytes of body. CRLFs
 * between messages are skipped (§7.5; RFC 5626 §3.5.1 keep-alives).
 *
 * Only Content-Length is read here; the message itself is parsed later. A stream that
 * cannot be framed (oversized message, bad Content-Length) cannot be resynchronised:
 * the framer reports an error and the connection must be dropped.
 */
import { HEADER_END, MAX_MESSAGE_BYTES, skipLeadingLineBreaks } from '../message/parse';

export interface FramedMessages {
  readonly messages: Buffer[];
  /** Set when the stream cannot be framed any further. */
  readonly error?: string;
}

export class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  /** Where to resume looking for the end of the header section in `pending`. */
  private searchFrom = 0;

  constructor(private readonly maxMessageBytes = MAX_MESSAGE_BYTES) {}

  push(chunk: Buffer): FramedMessages {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    for (;;) {
      const start = skipLeadingLineBreaks(data, 0);
      if (start > 0) {
        data = data.subarray(start);
        this.searchFrom = 0;
      }
      const headerEnd = data.indexOf(HEADER_END, this.searchFrom);
      if (headerEnd < 0) {
        if (data.length > this.maxMessageBytes) return this.fail(messages, `no end of header section within ${this.maxMessageBytes} bytes`);
        // The terminator may straddle the next chunk: look again from 3 bytes back.
        this.searchFrom = Math.max(0, data.length - (HEADER_END.length - 1));
        break;
      }
      const bodyLength = readContentLength(data.toString('latin1', 0, headerEnd));
      if (bodyLength === undefined) return this.fail(messages, 'malformed Content-Length');
      const total = headerEnd + HEADER_END.length + bodyLength;
      if (total > this.maxMessageBytes) return this.fail(messages, `message of ${total} bytes exceeds the ${this.maxMessageBytes}-byte limit`);
      if (data.length < total) {
        this.searchFrom = headerEnd;
        break;
      }
      messages.push(data.subarray(0, total));
      data = data.subarray(total);
      this.searchFrom = 0;
    }
    this.pending = data;
    return { messages };
  }

  private fail(messages: Buffer[], error: string): FramedMessages {
    this.pending = Buffer.alloc(0);
    this.searchFrom = 0;
    return { messages, error };
  }
}

/**
 * Content-Length (or its compact form `l`, §7.3.3) of a header section; 0 when absent
 * (§18.3 makes it mandatory on streams, but a bodiless message without it is harmless).
 */
export function readContentLength(headerSection: string): number | undefined {
  const m = CONTENT_LENGTH_LINE.exec(headerSection);
  if (!m) return 0;
  return /^\d{1,9}$/.test(m[1]) ? Number(m[1]) : undefined;
}

const CONTENT_LENGTH_LINE = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*\r?$/im;
