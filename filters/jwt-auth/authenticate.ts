// Decides a request against a rule's requirement, as jwt_authn's verifiers and authenticator do:
//  - provider_name: every token at the provider's locations must be valid for that provider; none → missing.
//  - requires_all: each member must pass; the first failure is the answer.
//  - requires_any: the first member that passes wins; when all fail the answer is the most telling failure
//    (anything beats "unknown issuer", which beats "missing"), softened by allow_missing / allow_missing_or_failed.
//  - allow_missing / allow_missing_or_failed: tokens at any provider's location are checked against the provider
//    of their issuer; a request without one passes, and with allow_missing_or_failed so does a bad one.
// Checks per token follow jwt_authn's order: structure, issuer, time, audience, subject, lifetime, then the
// signature — so an expired token is "expired" even when its signature is also wrong.
//
// Nothing is written to the request while deciding: what verified tokens call for is collected in `actions`,
// rolled back when the member it belongs to fails, and applied by the caller only on success.
//
// One Authenticator serves every request of a root context (wasm runs one callback at a time); `begin` resets
// it. A request whose token is in the verified-token cache allocates nothing here.
import { FilterConfig, IssuerSet, ProviderConfig, Requirement, RequirementKind } from "./config";
import { FoundToken, RequestView, extractToken } from "./extract";
import { Token, checkTime, parseToken } from "./token";
import { verifySignature } from "./verify";
import { audiencesAllowed, claimHeaderValue, findClaim } from "./claims";
import { ProviderState, VerifiedToken } from "./provider_state";
import { JwtMetrics } from "./metrics";
import { Action, ActionKind } from "./actions";
import { Status } from "./status";

export class Authenticator {
  readonly actions: Array<Action> = new Array<Action>();
  /** One slot per location: the token found there in this request, once looked for. */
  private readonly slots: Array<FoundToken> = new Array<FoundToken>();
  private readonly looked: Array<bool> = new Array<bool>();
  /** Per location: the action that removes its token upstream (forward: false). */
  private readonly removals: Array<Action> = new Array<Action>();
  /** Scratch list of the tokens a requirement reads. */
  private readonly found: Array<FoundToken> = new Array<FoundToken>();
  /**
   * The first provider this request needed whose remote JWKS was not fetched yet (its tokens answered "Jwks
   * remote fetch is failed"): the caller may wait for that fetch and decide again.
   */
  awaitingJwks: ProviderState | null = null;
  /**
   * Whether allow_missing_or_failed let a failed token pass: with awaitingJwks set, that token might have been
   * good (and given its claim headers) had the keys been there, so the caller waits for them as on a failure.
   */
  passedFailure: bool = false;
  private request: RequestView = new RequestView();
  private nowSeconds: u64 = 0;

  constructor(
    private readonly config: FilterConfig,
    private readonly providers: Array<ProviderState>,
    private readonly metrics: JwtMetrics,
    private readonly clock: () => u64,
  ) {
    for (let i = 0; i < config.locations.length; i++) {
      const location = config.locations[i];
      this.slots.push(new FoundToken(i));
      this.looked.push(false);
      this.removals.push(new Action(location.isHeader ? ActionKind.RemoveHeader : ActionKind.RemoveParam, location.header));
    }
  }

  /** Starts a new request. */
  begin(request: RequestView): void {
    this.request = request;
    this.actions.length = 0;
    this.nowSeconds = 0;
    this.awaitingJwks = null;
    this.passedFailure = false;
    const looked = this.looked;
    for (let i = 0, n = looked.length; i < n; i++) unchecked((looked[i] = false));
  }

  evaluate(requirement: Requirement): Status {
    switch (requirement.kind) {
      case RequirementKind.AllowAll: return Status.Ok;
      case RequirementKind.Provider: return this.checkProvider(requirement);
      case RequirementKind.All: return this.checkAll(requirement);
      case RequirementKind.Any: return this.checkAny(requirement);
      default: return this.checkAnyProvider(requirement.kind == RequirementKind.AllowMissingOrFailed);
    }
  }

  private checkAll(requirement: Requirement): Status {
    const children = requirement.children;
    for (let i = 0; i < children.length; i++) {
      const status = this.evaluate(children[i]);
      if (status != Status.Ok) return status;
    }
    return Status.Ok;
  }

  private checkAny(requirement: Requirement): Status {
    const children = requirement.children;
    let verdict = Status.JwtMissed;
    for (let i = 0; i < children.length; i++) {
      const mark = this.actions.length;
      const status = this.evaluate(children[i]);
      if (status == Status.Ok) return Status.Ok;
      this.actions.length = mark; // a failed member leaves nothing behind
      if ((status != Status.JwtMissed && status != Status.JwtUnknownIssuer) || verdict == Status.JwtMissed) verdict = status;
    }
    if (requirement.allowMissingOrFailed) {
      if (verdict != Status.JwtMissed) this.passedFailure = true;
      return Status.Ok;
    }
    if (requirement.allowMissing && verdict == Status.JwtMissed) return Status.Ok;
    return verdict;
  }

  /** The tokens at these locations, in jwt_authn's order, each location read once per request. */
  private tokens(locations: Array<i32>): Array<FoundToken> {
    const found = this.found;
    found.length = 0;
    for (let i = 0, n = locations.length; i < n; i++) {
      const index = unchecked(locations[i]);
      const slot = unchecked(this.slots[index]);
      if (!unchecked(this.looked[index])) {
        extractToken(this.request, this.config.locations[index], slot);
        unchecked((this.looked[index] = true));
      }
      if (slot.present) found.push(slot);
    }
    return found;
  }

  /** provider_name / provider_and_audiences: all tokens at the provider's locations, for that provider. */
  private checkProvider(requirement: Requirement): Status {
    const provider = this.providers[requirement.providerIndex];
    const found = this.tokens(provider.config.locations);
    const count = found.length;
    if (count == 0) return Status.JwtMissed;
    const mark = this.actions.length;
    // jwt_authn takes tokens from the back of its list; keep its order so the reported failure is the same.
    for (let i = count - 1; i >= 0; i--) {
      const status = this.checkToken(unchecked(found[i]), provider, null, requirement.audiences);
      if (status != Status.Ok) {
        this.actions.length = mark;
        return status;
      }
    }
    return Status.Ok;
  }

  /** allow_missing / allow_missing_or_failed: tokens anywhere, each for the provider of its issuer. */
  private checkAnyProvider(allowFailed: bool): Status {
    const found = this.tokens(this.config.allLocations);
    let verdict = Status.Ok;
    for (let i = found.length - 1; i >= 0; i--) {
      const token = unchecked(found[i]);
      const status = this.checkToken(token, null, this.config.locations[token.location].issuers, null);
      if (status != Status.Ok && verdict == Status.Ok) verdict = status;
    }
    // A token that is present but fails fails the request (unless failures are allowed): all tokens must be good.
    if (!allowFailed) return verdict;
    if (verdict != Status.Ok) this.passedFailure = true;
    return Status.Ok;
  }

  private now(): u64 {
    if (this.nowSeconds == 0) this.nowSeconds = this.clock();
    return this.nowSeconds;
  }

  /**
   * One token. With `state`, the token is for that provider (its issuer must match); without, the provider is the
   * one whose issuer the token names, among those allowed at the token's location (`issuers`).
   */
  private checkToken(found: FoundToken, state: ProviderState | null, issuers: IssuerSet | null, audiences: Array<string> | null): Status {
    if (state !== null) {
      const cached = state.cache.lookup(found.pointer, found.length);
      if (cached !== null) {
        this.metrics.cacheHit.increment();
        return this.useCached(found, state, cached, audiences);
      }
      this.metrics.cacheMiss.increment();
    }

    const bytes = found.bytes();
    const token = parseToken(bytes);
    if (token.status != Status.Ok) return token.status;
    let provider: ProviderState;
    if (state !== null) {
      const issuer = state.config.issuer;
      if (issuer.length > 0 && issuer != token.iss) return Status.JwtUnknownIssuer;
      provider = state;
    } else {
      if (!issuers!.allows(token.iss)) return Status.JwtUnknownIssuer;
      const byIssuer = this.config.providerForIssuer(token.iss);
      if (byIssuer === null) return Status.JwtUnknownIssuer;
      provider = this.providers[byIssuer.index];
      const cached = provider.cache.lookup(found.pointer, found.length);
      if (cached !== null) return this.useCached(found, provider, cached, audiences);
    }
    const config = provider.config;

    const time = checkTime(token.nbf, token.exp, this.now(), config.clockSkewSeconds);
    if (time != Status.Ok) return time;
    if (!audiencesAllowed(audiences !== null ? audiences : config.audiences, token.audiences)) return Status.JwtAudienceNotAllowed;
    // subjects and max_lifetime / require_expiration, as jwt_authn checks them. A cached token passed both: its sub
    // does not change, and its remaining lifetime only shrinks.
    const subjects = config.subjects;
    if (subjects !== null && !subjects.matches(token.sub)) return SUBJECT_NOT_ALLOWED;
    if (!lifetimeAllowed(config, token.exp, this.now())) return LIFETIME_NOT_ALLOWED;

    const jwks = provider.jwks;
    if (jwks === null) {
      if (config.remote === null) return Status.JwksNoValidKeys;
      if (this.awaitingJwks === null) this.awaitingJwks = provider;
      return Status.JwksFetchFail;
    }
    const signature = verifySignature(token, jwks);
    if (signature != Status.Ok) return signature;

    const verified = describeVerified(token, config);
    // With provider_and_audiences the provider's own list was not the one checked above; settle it for later hits.
    verified.fitsProviderAudiences = audiences === null || audiencesAllowed(config.audiences, token.audiences);
    provider.cache.insert(bytes, verified);
    this.addActions(found, config, verified);
    return Status.Ok;
  }

  private useCached(found: FoundToken, state: ProviderState, verified: VerifiedToken, audiences: Array<string> | null): Status {
    const time = checkTime(verified.nbf, verified.exp, this.now(), state.config.clockSkewSeconds);
    if (time != Status.Ok) {
      state.cache.evict(found.pointer, found.length);
      return time;
    }
    // Whether the provider's own audiences accept the token was settled when it was cached; a requirement's own
    // list (provider_and_audiences) is checked each time.
    const allowed = audiences !== null ? audiencesAllowed(audiences, verified.audiences) : verified.fitsProviderAudiences;
    if (!allowed) return Status.JwtAudienceNotAllowed;
    this.addActions(found, state.config, verified);
    return Status.Ok;
  }

  private addActions(found: FoundToken, config: ProviderConfig, verified: VerifiedToken): void {
    const actions = this.actions;
    const headerActions = verified.headerActions;
    for (let i = 0, n = headerActions.length; i < n; i++) actions.push(unchecked(headerActions[i]));
    // A token in a cookie stays where it is, as in jwt_authn (which removes header and parameter tokens only).
    if (!config.forward && !unchecked(this.config.locations[found.location]).isCookie) actions.push(unchecked(this.removals[found.location]));
  }
}

/** The answer when `subjects` refuses a token's sub. */
const SUBJECT_NOT_ALLOWED = Status.JwtVerificationFail;
/** The answer when max_lifetime or require_expiration refuses a token's exp (jwt_authn's too, not "expired"). */
const LIFETIME_NOT_ALLOWED = Status.JwtVerificationFail;

/** jwt_authn's rule: with max_lifetime (or require_expiration) exp must be present, and exp - now under max_lifetime. */
function lifetimeAllowed(config: ProviderConfig, exp: u64, now: u64): bool {
  if (config.maxLifetimeMs == 0 && !config.requireExpiration) return true;
  if (exp == 0) return false;
  if (config.maxLifetimeMs == 0 || exp <= now) return true;
  return (exp - now) * 1000 < config.maxLifetimeMs;
}

/** What a verified token gives upstream, computed once and cached with it. */
function describeVerified(token: Token, config: ProviderConfig): VerifiedToken {
  const actions = new Array<Action>();
  const payloadHeader = config.forwardPayloadHeader;
  if (payloadHeader !== null) {
    // The payload segment as sent (base64url, ASCII), with "=" up to a multiple of four when asked to pad.
    const length = token.signingInputEnd - token.payloadStart;
    const padded = config.padForwardPayloadHeader ? (length + 3) & ~3 : length;
    const value = new Uint8Array(padded);
    value.set(token.bytes.subarray(token.payloadStart, token.signingInputEnd));
    for (let i = length; i < padded; i++) value[i] = 0x3d;
    actions.push(new Action(ActionKind.AddHeader, payloadHeader, value.buffer));
  }
  const claims = config.claimToHeaders;
  const payload = token.payload!;
  for (let i = 0; i < claims.length; i++) {
    const claim = findClaim(payload, unchecked(claims[i]).claimPath);
    if (claim === null) continue;
    const value = claimHeaderValue(claim);
    if (value !== null) actions.push(new Action(ActionKind.AddHeader, unchecked(claims[i]).header, String.UTF8.encode(value)));
  }
  return new VerifiedToken(token.nbf, token.exp, token.audiences, actions);
}
