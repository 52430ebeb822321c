// The response of an HTTP callout, readable only while its callback runs (Envoy frees it afterwards).
import * as host from "./abi/hostcalls";
import { BufferType, HeaderMapType } from "./abi/types";
import { Headers } from "./abi/pairs";

export class HttpCallResponse {
  constructor(public headerCount: u32, public bodySize: u32, public trailerCount: u32) {}

  /** False when the call failed without a response (timeout, connection failure, reset). */
  get received(): bool {
    return this.headerCount > 0;
  }

  /** The :status of the response, or 0 when there was none. */
  get status(): u32 {
    if (!this.received) return 0;
    const value = host.getHeaderMapValueBytes(HeaderMapType.HttpCallResponseHeaders, ":status");
    if (!value) return 0;
    const parsed = I32.parseInt(String.UTF8.decode(value), 10);
    return isNaN(parsed) || parsed < 0 ? 0 : <u32>parsed;
  }

  header(name: string): string | null {
    const value = host.getHeaderMapValueBytes(HeaderMapType.HttpCallResponseHeaders, name);
    return value ? String.UTF8.decode(value) : null;
  }

  headers(): Headers {
    return host.getHeaderMapPairs(HeaderMapType.HttpCallResponseHeaders);
  }

  trailers(): Headers {
    return host.getHeaderMapPairs(HeaderMapType.HttpCallResponseTrailers);
  }

  body(): ArrayBuffer {
    return this.bodySize == 0 ? new ArrayBuffer(0) : host.getBufferBytes(BufferType.HttpCallResponseBody, 0, this.bodySize);
  }

  bodyText(): string {
    return String.UTF8.decode(this.body());
  }
}
