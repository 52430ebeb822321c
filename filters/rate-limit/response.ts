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
import { HeaderPair, Headers } from "../../assembly";
import { Rule } from "./config";
import { Decision } from "./table";

/** The per-rule header values that never change, built once at configuration. */
export class RuleHeaders {
  readonly limit: string;
  readonly policy: string;
  readonly policyName: string;

  constructor(rule: Rule) {
    const limit = rule.bucket.maxTokens.toString();
    const policyName = "\"" + rule.name + "\"";
    this.limit = limit;
    this.policyName = policyName;
    this.policy = policyName + ";q=" + limit + ";w=" + secondsCeil(rule.bucket.timeToFullMs()).toString();
  }
}

export function secondsCeil(ms: u64): u64 {
  return (ms + 999) / 1000;
}

function pushRateLimitHeaders(out: Headers, fixed: RuleHeaders, remaining: u32, resetSeconds: u64): void {
  const reset = resetSeconds.toString();
  const left = remaining.toString();
  out.push(new HeaderPair("x-ratelimit-limit", fixed.limit));
  out.push(new HeaderPair("x-ratelimit-remaining", left));
  out.push(new HeaderPair("x-ratelimit-reset", reset));
  out.push(new HeaderPair("ratelimit-policy", fixed.policy));
  out.push(new HeaderPair("ratelimit", fixed.policyName + ";r=" + left + ";t=" + reset));
}

/** Headers of the 429 answer. */
export function limitedResponseHeaders(fixed: RuleHeaders, decision: Decision): Headers {
  let retrySeconds = secondsCeil(decision.retryAfterMs);
  if (retrySeconds == 0) retrySeconds = 1;
  const out = new Array<HeaderPair>();
  out.push(new HeaderPair("content-type", "text/plain"));
  out.push(new HeaderPair("x-envoy-ratelimited", "true"));
  out.push(new HeaderPair("retry-after", retrySeconds.toString()));
  pushRateLimitHeaders(out, fixed, 0, retrySeconds);
  return out;
}

/** Headers added to a response the limit let through (only with enable_x_ratelimit_headers). */
export function allowedResponseHeaders(fixed: RuleHeaders, decision: Decision): Headers {
  const out = new Array<HeaderPair>();
  pushRateLimitHeaders(out, fixed, decision.remaining, secondsCeil(decision.resetMs));
  return out;
}
