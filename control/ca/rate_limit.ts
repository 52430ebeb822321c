// Token buckets for the issuance API: one shared by all callers (protects the CA's CPU) and one per identity (a
// single misbehaving workload cannot starve the others). Buckets of idle identities are dropped once full again.
export interface BucketOptions {
  /** Requests allowed in a burst. */
  burst: number;
  /** Sustained requests per second. */
  perSecond: number;
}

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(private readonly options: BucketOptions, private readonly now: () => number = Date.now) {
    this.tokens = options.burst;
    this.updatedAt = now();
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.options.perSecond);
    this.updatedAt = now;
  }

  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  isFull(): boolean {
    this.refill();
    return this.tokens >= this.options.burst;
  }
}

export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly options: BucketOptions, private readonly now: () => number = Date.now) {}

  tryTake(key: string): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= 10_000) this.sweep();
      bucket = new TokenBucket(this.options, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket.tryTake();
  }

  private sweep(): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull()) this.buckets.delete(key);
  }
}
