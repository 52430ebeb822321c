// Rate-limit response headers: the x-ratelimit-* trio Envoy's local_ratelimit sends with
// enable_x_ratelimit_headers: DRAFT_VERSION_03, Retry-After on 429s, and the IETF RateLimit-Policy / RateLimit
// fields (draft-ietf-httpapi-ratelimit-headers; the policy is named after the rule).
//
// Values, all whole seconds rounded up so a client that waits them out is never early:
//   x-ratelimit-limit      max_tokens
//   x-ratelimit-remaining  tokens left after this request
//   x-ratelimit-reset      until the next fill (on a 429: until there are enough tokens, = retry-after)
//   retry-after            (429 only) until the bucket holds enough tokens for this request
//   RateLimit-Policy       "<rule>";q=<max_tokens>;w=<seconds for an empty bucket to fill up>
//   RateLimit              "<rule>";r=<remaining>;t=<x-ratelimit-reset>
import { HeaderName, HeaderPair, PreparedHeaders, headers } from "../../assembly";
import { Rule } from "./config";
import { Decision } from "./table";

const LIMIT = new HeaderName("x-ratelimit-limit");
const REMAINING = new HeaderName("x-ratelimit-remaining");
const RESET = new HeaderName("x-ratelimit-reset");
const POLICY = new HeaderName("ratelimit-policy");
const RATELIMIT = new HeaderName("ratelimit");

export function secondsCeil(ms: u64): u64 {
  return (ms + 999) / 1000;
}

/** Body of the 429, as Envoy's local_ratelimit words it. */
export const LIMITED_BODY = String.UTF8.encode("local_rate_limited");

/**
 * A rule's header values that never change, and its last 429 header block: 429s of one rule in the same second
 * carry identical headers, so a flood of limited requests reuses one serialized block.
 */
export class RuleHeaders {
  readonly limit: string;
  readonly policy: string;
  readonly policyName: string;
  private readonly limitBytes: ArrayBuffer;
  private readonly policyBytes: ArrayBuffer;
  private limitedFor: u64 = 0;
  private limited: PreparedHeaders = new PreparedHeaders([]);

  constructor(rule: Rule) {
    const limit = rule.bucket.maxTokens.toString();
    const policyName = "\"" + rule.name + "\"";
    this.limit = limit;
    this.policyName = policyName;
    const policy = policyName + ";q=" + limit + ";w=" + secondsCeil(rule.bucket.timeToFullMs()).toString();
    this.policy = policy;
    this.limitBytes = String.UTF8.encode(limit);
    this.policyBytes = String.UTF8.encode(policy);
  }

  /** Headers of the 429 answer (Envoy adds content-type: text/plain for the body itself). */
  limitedResponse(decision: Decision): PreparedHeaders {
    let retrySeconds = secondsCeil(decision.retryAfterMs);
    if (retrySeconds == 0) retrySeconds = 1;
    if (retrySeconds == this.limitedFor) return this.limited;
    const retry = retrySeconds.toString();
    const list = new Array<HeaderPair>();
    list.push(new HeaderPair("x-envoy-ratelimited", "true"));
    list.push(new HeaderPair("retry-after", retry));
    list.push(new HeaderPair("x-ratelimit-limit", this.limit));
    list.push(new HeaderPair("x-ratelimit-remaining", "0"));
    list.push(new HeaderPair("x-ratelimit-reset", retry));
    list.push(new HeaderPair("ratelimit-policy", this.policy));
    list.push(new HeaderPair("ratelimit", this.policyName + ";r=0;t=" + retry));
    const prepared = new PreparedHeaders(list);
    this.limited = prepared;
    this.limitedFor = retrySeconds;
    return prepared;
  }

  /** Adds the headers to a response the limit let through (only with enable_x_ratelimit_headers). */
  addToResponse(decision: Decision): void {
    const reset = secondsCeil(decision.resetMs).toString();
    const left = decision.remaining.toString();
    const response = headers.response;
    response.addEncoded(LIMIT, this.limitBytes);
    response.addEncoded(REMAINING, String.UTF8.encode(left));
    response.addEncoded(RESET, String.UTF8.encode(reset));
    response.addEncoded(POLICY, this.policyBytes);
    response.addEncoded(RATELIMIT, String.UTF8.encode(this.policyName + ";r=" + left + ";t=" + reset));
  }
}
