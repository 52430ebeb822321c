// jwt-auth's pure parts: the verified-token cache (a hash collision must never serve another token), claim values
// as headers, audience normalisation, durations, the time rule and token parsing statuses.
import { TokenCache } from "../../filters/jwt-auth/token_cache";
import { audiencesAllowed, claimHeaderValue, normalizeAudience, numberForHeader } from "../../filters/jwt-auth/claims";
import { parseDurationMs } from "../../filters/jwt-auth/duration";
import { checkTime, parseToken } from "../../filters/jwt-auth/token";
import { Status } from "../../filters/jwt-auth/status";
import { parseJsonString } from "../../assembly/lib/json";

class Value {
  constructor(public n: i32) {}
}

function bytes(text: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(text));
}

/** Every token in one bucket: lookups can only tell tokens apart by their bytes. */
function collide(data: usize, length: i32, seed: u64): u32 {
  return 7;
}

function lookup(cache: TokenCache<Value>, text: string): i32 {
  const token = bytes(text);
  const found = cache.lookup(token.dataStart, token.length);
  return found === null ? -1 : found.n;
}

describe("TokenCache", () => {
  it("never serves a token whose hash collides with a cached one", () => {
    const cache = new TokenCache<Value>(8, 1, collide);
    cache.insert(bytes("aaaa.bbbb.cccc"), new Value(1));
    expect(lookup(cache, "aaaa.bbbb.cccc")).toBe(1);
    expect(lookup(cache, "aaaa.bbbb.cccd")).toBe(-1); // same length, same bucket, one byte apart
    expect(lookup(cache, "aaaa.bbbb.ccc")).toBe(-1); // a prefix
    expect(lookup(cache, "aaaa.bbbb.cccc.")).toBe(-1); // an extension
    cache.insert(bytes("aaaa.bbbb.cccd"), new Value(2));
    expect(lookup(cache, "aaaa.bbbb.cccc")).toBe(1);
    expect(lookup(cache, "aaaa.bbbb.cccd")).toBe(2);
  });

  it("evicts the least recently used token when full, with colliding hashes too", () => {
    const cache = new TokenCache<Value>(2, 1, collide);
    cache.insert(bytes("t1"), new Value(1));
    cache.insert(bytes("t2"), new Value(2));
    expect(lookup(cache, "t1")).toBe(1); // t2 is now the oldest
    cache.insert(bytes("t3"), new Value(3));
    expect(cache.size).toBe(2);
    expect(lookup(cache, "t2")).toBe(-1);
    expect(lookup(cache, "t1")).toBe(1);
    expect(lookup(cache, "t3")).toBe(3);
  });

  it("keeps its own copy of the bytes", () => {
    const cache = new TokenCache<Value>(4, 1);
    const token = bytes("header.payload.sig");
    cache.insert(token, new Value(5));
    token[0] = 0x48; // the caller's buffer changes (e.g. it is reused for the next request)
    expect(lookup(cache, "header.payload.sig")).toBe(5);
    expect(lookup(cache, "Header.payload.sig")).toBe(-1);
  });

  it("drops evicted entries and everything on clear", () => {
    const cache = new TokenCache<Value>(4, 1);
    cache.insert(bytes("x"), new Value(1));
    cache.insert(bytes("y"), new Value(2));
    const x = bytes("x");
    cache.evict(x.dataStart, x.length);
    expect(lookup(cache, "x")).toBe(-1);
    expect(cache.size).toBe(1);
    cache.clear();
    expect(lookup(cache, "y")).toBe(-1);
    expect(cache.size).toBe(0);
  });

  it("does not cache tokens over 4 KiB", () => {
    const cache = new TokenCache<Value>(4, 1);
    cache.insert(bytes("a".repeat(4097)), new Value(1));
    expect(cache.size).toBe(0);
  });
});

describe("claim values as headers", () => {
  it("prints numbers like jwt_authn (std::to_string for anything not a u64)", () => {
    expect(numberForHeader(1)).toBe("1");
    expect(numberForHeader(1700000000)).toBe("1700000000");
    expect(numberForHeader(1.5)).toBe("1.500000");
    expect(numberForHeader(-5)).toBe("-5.000000");
    expect(numberForHeader(1.0 / 3.0)).toBe("0.333333");
    expect(numberForHeader(2.0 / 3.0)).toBe("0.666667");
    expect(numberForHeader(1e20)).toBe("100000000000000000000.000000");
    expect(numberForHeader(18446744073709551616.0)).toBe("18446744073709551616.000000");
  });

  it("writes objects and arrays as base64 of compact JSON with sorted names, like protobuf", () => {
    const value = parseJsonString('{"z":1,"b":"x<>&","a":[1,2.5,true,null]}')!;
    expect(claimHeaderValue(value)).toBe("eyJhIjpbMSwyLjUsdHJ1ZSxudWxsXSwiYiI6InhcdTAwM2NcdTAwM2UmIiwieiI6MX0=");
  });

  it("gives no header for null, empty strings or control characters", () => {
    expect(claimHeaderValue(parseJsonString("null")!)).toBeNull();
    expect(claimHeaderValue(parseJsonString('""')!)).toBeNull();
    expect(claimHeaderValue(parseJsonString('"a\\nb"')!)).toBeNull();
    expect(claimHeaderValue(parseJsonString("false")!)).toBe("false");
  });
});

describe("audiences", () => {
  it("ignores an http(s) scheme and one trailing slash, as jwt_verify_lib does", () => {
    expect(normalizeAudience("https://api.example/")).toBe("api.example");
    expect(normalizeAudience("http://api.example")).toBe("api.example");
    expect(normalizeAudience("api.example//")).toBe("api.example/");
    expect(normalizeAudience("ftp://api.example")).toBe("ftp://api.example");
    expect(audiencesAllowed(["api.example"], ["other", "https://api.example/"])).toBe(true);
    expect(audiencesAllowed(["api.example"], [])).toBe(false);
    expect(audiencesAllowed([], [])).toBe(true);
  });
});

describe("durations", () => {
  it("reads protobuf JSON durations in milliseconds", () => {
    expect(parseDurationMs("300s")).toBe(300_000);
    expect(parseDurationMs("1.5s")).toBe(1500);
    expect(parseDurationMs("0.001s")).toBe(1);
    expect(parseDurationMs("0.0001s")).toBe(-1);
    expect(parseDurationMs("5")).toBe(-1);
    expect(parseDurationMs("-1s")).toBe(-1);
    expect(parseDurationMs("1.s")).toBe(-1);
    expect(parseDurationMs("s")).toBe(-1);
  });
});

describe("time window", () => {
  it("applies the skew on both ends and never overflows", () => {
    expect(checkTime(0, 1000, 1000, 0)).toBe(Status.Ok);
    expect(checkTime(0, 1000, 1001, 0)).toBe(Status.JwtExpired);
    expect(checkTime(0, 1000, 1060, 60)).toBe(Status.Ok);
    expect(checkTime(2000, 0, 1000, 60)).toBe(Status.JwtNotYetValid);
    expect(checkTime(1060, 0, 1000, 60)).toBe(Status.Ok);
    expect(checkTime(0, u64.MAX_VALUE - 10, u64.MAX_VALUE - 1, 60)).toBe(Status.Ok);
    expect(checkTime(u64.MAX_VALUE, 0, u64.MAX_VALUE - 5, 60)).toBe(Status.Ok);
  });
});

describe("parseToken", () => {
  it("requires exactly three non-empty segments", () => {
    expect(parseToken(bytes("a.b")).status).toBe(Status.JwtBadFormat);
    expect(parseToken(bytes("a.b.c.d")).status).toBe(Status.JwtBadFormat);
    expect(parseToken(bytes(".b.c")).status).toBe(Status.JwtBadFormat);
    expect(parseToken(bytes("a..c")).status).toBe(Status.JwtBadFormat);
    expect(parseToken(bytes("a.b.")).status).toBe(Status.JwtBadFormat);
  });

  it("reports header problems in jwt_verify_lib's order", () => {
    // eyJhbGciOiJub25lIn0 = {"alg":"none"}, e30 = {}, eA = "x"
    expect(parseToken(bytes("eyJhbGciOiJub25lIn0.e30.eA")).status).toBe(Status.JwtHeaderNotImplementedAlg);
    expect(parseToken(bytes("e30.e30.eA")).status).toBe(Status.JwtHeaderBadAlg);
    expect(parseToken(bytes("eA.e30.eA")).status).toBe(Status.JwtHeaderParseErrorBadJson);
    expect(parseToken(bytes("e30*.e30.eA")).status).toBe(Status.JwtHeaderParseErrorBadBase64);
  });

  it("parses a well-formed token's registered claims", () => {
    // {"alg":"HS256","kid":"k1"} . {"iss":"me","aud":["a","b"],"exp":2000,"nbf":1000.9}
    const token = parseToken(bytes("eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJtZSIsImF1ZCI6WyJhIiwiYiJdLCJleHAiOjIwMDAsIm5iZiI6MTAwMC45fQ.eA"));
    expect(token.status).toBe(Status.Ok);
    expect(token.kid).toBe("k1");
    expect(token.iss).toBe("me");
    expect(token.audiences.join(",")).toBe("a,b");
    expect(token.exp).toBe(2000);
    expect(token.nbf).toBe(1000);
    expect(token.signature.length).toBe(1);
  });
});
