// What a provider holds at run time in one VM: its current key set and its verified-token cache.
import { ProviderConfig } from "./config";
import { Jwks } from "./jwks";
import { TokenCache } from "./token_cache";

export class ProviderState {
  /** Null until a remote JWKS was fetched once; never null for local_jwks. */
  jwks: Jwks | null;
  readonly cache: TokenCache;

  constructor(public readonly config: ProviderConfig, cacheSeed: u64) {
    this.jwks = config.localJwks;
    this.cache = new TokenCache(config.cacheSize, cacheSeed);
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
