// What a provider holds at run time in one VM: its current key set and its verified-token cache, and what the
// cache keeps per token.
import { ProviderConfig } from "./config";
import { Jwks } from "./jwks";
import { TokenCache, hashBytes } from "./token_cache";
import { Action } from "./actions";

/** What a successful verification established; cached with the token and reused as-is on a hit. */
export class VerifiedToken {
  /** Whether the provider's own audiences accept the token (a requirement may have checked other ones). */
  fitsProviderAudiences: bool = true;

  constructor(
    public nbf: u64,
    public exp: u64,
    public audiences: Array<string>,
    /** The headers to add upstream: forward_payload_header and claim_to_headers, values included. */
    public headerActions: Array<Action>,
  ) {}
}

export class ProviderState {
  /** Null until a remote JWKS was fetched once; never null for local_jwks. */
  jwks: Jwks | null;
  readonly cache: TokenCache<VerifiedToken>;
  /** Index of this provider's remote JWKS in the root's list; -1 for local_jwks. */
  remoteIndex: i32 = -1;

  constructor(public readonly config: ProviderConfig, cacheSeed: u64) {
    this.jwks = config.localJwks;
    this.cache = new TokenCache<VerifiedToken>(config.cacheSize, cacheSeed, hashBytes, config.cacheMaxTokenBytes);
  }

  /**
   * Installs a new key set. Cached verifications are dropped with the old keys, so a key the issuer withdrew stops
   * authenticating at once instead of when its tokens expire.
   */
  replaceJwks(jwks: Jwks): void {
    this.jwks = jwks;
    this.cache.clear();
  }
}
