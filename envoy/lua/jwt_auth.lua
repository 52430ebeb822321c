-- JWT authentication in Envoy's Lua filter: the Lua baseline the jwt-auth Wasm filter and Envoy's jwt_authn are
-- measured against. It makes jwt_authn's decisions with jwt_authn's words and status codes:
--   missing token        -> 401 "Jwt is missing"
--   malformed / bad sig  -> 401 "Jwt verification fails"
--   expired / too early  -> 401 "Jwt is expired" / "Jwt not yet valid"
--   wrong issuer         -> 401 "Jwt issuer is not configured"
--   audience not allowed -> 403 "Audiences in Jwt are not allowed"
-- with a `WWW-Authenticate: Bearer realm="..."[, error="invalid_token"]` header as jwt_authn sends it.
--
-- Base64url and JSON are decoded in Lua; signatures are checked by BoringSSL through the Lua API's
-- importPublicKey (DER SubjectPublicKeyInfo) and verifySignature. What that API allows decides what this filter
-- supports:
--   * RS256/RS384/RS512 and ES256/ES384. verifySignature hashes and checks with the key's own scheme, so there is
--     no way to ask for RSA-PSS (PS*), no HMAC (HS*) and no Ed25519 (EdDSA needs no digest, the API always uses one).
--   * ES* signatures in a JWS are r||s; BoringSSL wants an ASN.1 DER SEQUENCE { r, s }, so they are re-encoded here.
--   * A stream handle imports ONE public key: a second importPublicKey in the same request returns the first key
--     again. So one key is tried per token (the `kid` match, else the first key that fits the alg) where jwt_authn
--     tries every key that fits. Keys are parsed again on every request: the imported key lives with the handle.
--
-- Configuration: this file expects a `CONFIG` table defined before it (envoy/lua/index.ts prepends it). Its shape
-- is jwt_authn's, for the subset this baseline implements:
--   providers = { <name> = { issuer, audiences = {..}, local_jwks = { inline_string = "<JWKS JSON>" },
--                            from_headers = { { name, value_prefix } }, forward, clock_skew_seconds,
--                            claim_to_headers = { { header_name, claim_name } },
--                            jwt_cache_config = { jwt_cache_size } } },   -- verified tokens kept, per worker
--   rules = { { match = { prefix | path }, requires = { provider_name } | nil } },   -- first match wins
-- A configuration this file does not understand fails at load time, so Envoy refuses it.
if type(CONFIG) ~= "table" then error("jwt-auth(lua): no CONFIG table precedes the script", 0) end

local bit = require("bit")
local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift
local byte, char, sub, find = string.byte, string.char, string.sub, string.find
local concat, unpack = table.concat, unpack

local NAME = "jwt-auth(lua)"

---------------------------------------------------------------------------------------------------------------------
-- base64url (RFC 4648 section 5, no padding, as JWS uses it)

local B64URL = {}
do
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  for i = 1, #alphabet do B64URL[byte(alphabet, i)] = i - 1 end
end

-- Returns the decoded bytes, or nil when `s` is not base64url.
local function base64url_decode(s)
  local n = #s
  if n % 4 == 1 then return nil end
  local out, o = {}, 0
  local i = 1
  while i + 3 <= n do
    local a, b, c, d = byte(s, i, i + 3)
    a, b, c, d = B64URL[a], B64URL[b], B64URL[c], B64URL[d]
    if not (a and b and c and d) then return nil end
    local v = bor(lshift(a, 18), lshift(b, 12), lshift(c, 6), d)
    out[o + 1], out[o + 2], out[o + 3] = rshift(v, 16), band(rshift(v, 8), 255), band(v, 255)
    o = o + 3
    i = i + 4
  end
  -- A last group of 2 or 3 characters carries 1 or 2 bytes. Leftover bits are ignored, not checked: jwt_authn's
  -- decoder accepts them too, and this filter answers as jwt_authn does.
  local rest = n - i + 1
  if rest >= 2 then
    local a, b = B64URL[byte(s, i)], B64URL[byte(s, i + 1)]
    if not (a and b) then return nil end
    o = o + 1
    out[o] = bor(lshift(a, 2), rshift(b, 4))
    if rest == 3 then
      local c = B64URL[byte(s, i + 2)]
      if not c then return nil end
      o = o + 1
      out[o] = band(bor(lshift(b, 4), rshift(c, 2)), 255)
    end
  end
  -- string.char takes its bytes as arguments; pass them in slices to stay far below Lua's argument limit.
  if o <= 4096 then return char(unpack(out, 1, o)) end
  local parts = {}
  for first = 1, o, 4096 do
    parts[#parts + 1] = char(unpack(out, first, math.min(first + 4095, o)))
  end
  return concat(parts)
end

---------------------------------------------------------------------------------------------------------------------
-- JSON (RFC 8259), strict: one value, no trailing bytes, no duplicate member names, bounded nesting.
-- Returns value or nil, error. JSON null decodes to the JSON_NULL marker so that "present but null" is visible.

local JSON_NULL = setmetatable({}, { __tostring = function() return "null" end })
local JSON_ARRAY = {} -- metatable of decoded arrays, so an object and an array are told apart
local MAX_DEPTH = 32

local json_value -- forward declaration: values nest

local function skip_space(s, pos)
  return find(s, "[^ \t\r\n]", pos) or (#s + 1)
end

local ESCAPES = { [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t" }

local function utf8_encode(code)
  if code < 0x80 then return char(code) end
  if code < 0x800 then return char(0xC0 + rshift(code, 6), 0x80 + band(code, 0x3F)) end
  if code < 0x10000 then
    return char(0xE0 + rshift(code, 12), 0x80 + band(rshift(code, 6), 0x3F), 0x80 + band(code, 0x3F))
  end
  return char(0xF0 + rshift(code, 18), 0x80 + band(rshift(code, 12), 0x3F), 0x80 + band(rshift(code, 6), 0x3F),
    0x80 + band(code, 0x3F))
end

-- `pos` is just after the opening quote; returns the string and the position after the closing quote.
local function json_string(s, pos)
  local parts = nil
  while true do
    local stop = find(s, '[%z\1-\31"\\]', pos)
    if not stop then return nil, "unterminated string" end
    local c = byte(s, stop)
    if c == 34 then
      local tail = sub(s, pos, stop - 1)
      if not parts then return tail, stop + 1 end
      parts[#parts + 1] = tail
      return concat(parts), stop + 1
    end
    if c < 32 then return nil, "control character in string" end
    parts = parts or {}
    parts[#parts + 1] = sub(s, pos, stop - 1)
    local e = byte(s, stop + 1)
    if e == 117 then -- \uXXXX, with surrogate pairs
      local hex = sub(s, stop + 2, stop + 5)
      if not find(hex, "^%x%x%x%x$") then return nil, "bad \\u escape" end
      local code = tonumber(hex, 16)
      pos = stop + 6
      if code >= 0xD800 and code <= 0xDBFF then
        local low = sub(s, pos, pos + 5)
        if not find(low, "^\\u[dD][c-fC-F]%x%x$") then return nil, "lone surrogate" end
        code = 0x10000 + lshift(code - 0xD800, 10) + (tonumber(sub(low, 3), 16) - 0xDC00)
        pos = pos + 6
      elseif code >= 0xDC00 and code <= 0xDFFF then
        return nil, "lone surrogate"
      end
      parts[#parts + 1] = utf8_encode(code)
    else
      local decoded = e and ESCAPES[e]
      if not decoded then return nil, "bad escape" end
      parts[#parts + 1] = decoded
      pos = stop + 2
    end
  end
end

local function json_number(s, pos)
  local stop = select(2, find(s, "^-?", pos))
  local int_end = select(2, find(s, "^0", stop + 1)) or select(2, find(s, "^[1-9]%d*", stop + 1))
  if not int_end then return nil, "bad number" end
  stop = int_end
  local frac_end = select(2, find(s, "^%.%d+", stop + 1))
  if frac_end then stop = frac_end elseif byte(s, stop + 1) == 46 then return nil, "bad number" end
  local exp_end = select(2, find(s, "^[eE][-+]?%d+", stop + 1))
  if exp_end then stop = exp_end elseif find(s, "^[eE]", stop + 1) then return nil, "bad number" end
  return tonumber(sub(s, pos, stop)), stop + 1
end

local function json_object(s, pos, depth)
  local result = {}
  pos = skip_space(s, pos)
  if byte(s, pos) == 125 then return result, pos + 1 end
  while true do
    if byte(s, pos) ~= 34 then return nil, "expected member name" end
    local key, value
    key, pos = json_string(s, pos + 1)
    if not key then return nil, pos end
    if result[key] ~= nil then return nil, "duplicate member " .. key end
    pos = skip_space(s, pos)
    if byte(s, pos) ~= 58 then return nil, "expected ':'" end
    value, pos = json_value(s, skip_space(s, pos + 1), depth)
    if value == nil then return nil, pos end
    result[key] = value
    pos = skip_space(s, pos)
    local c = byte(s, pos)
    if c == 125 then return result, pos + 1 end
    if c ~= 44 then return nil, "expected ',' or '}'" end
    pos = skip_space(s, pos + 1)
  end
end

local function json_array(s, pos, depth)
  local result, n = setmetatable({}, JSON_ARRAY), 0
  pos = skip_space(s, pos)
  if byte(s, pos) == 93 then return result, pos + 1 end
  while true do
    local value
    value, pos = json_value(s, pos, depth)
    if value == nil then return nil, pos end
    n = n + 1
    result[n] = value
    pos = skip_space(s, pos)
    local c = byte(s, pos)
    if c == 93 then return result, pos + 1 end
    if c ~= 44 then return nil, "expected ',' or ']'" end
    pos = skip_space(s, pos + 1)
  end
end

json_value = function(s, pos, depth)
  local c = byte(s, pos)
  if c == 34 then return json_string(s, pos + 1) end
  if c == 123 or c == 91 then
    if depth >= MAX_DEPTH then return nil, "nesting too deep" end
    if c == 123 then return json_object(s, pos + 1, depth + 1) end
    return json_array(s, pos + 1, depth + 1)
  end
  if c == 116 and sub(s, pos, pos + 3) == "true" then return true, pos + 4 end
  if c == 102 and sub(s, pos, pos + 4) == "false" then return false, pos + 5 end
  if c == 110 and sub(s, pos, pos + 3) == "null" then return JSON_NULL, pos + 4 end
  if c == 45 or (c and c >= 48 and c <= 57) then return json_number(s, pos) end
  return nil, "unexpected character"
end

local function json_decode(s)
  local value, pos = json_value(s, skip_space(s, 1), 0)
  if value == nil then return nil, pos end
  if skip_space(s, pos) <= #s then return nil, "trailing bytes" end
  return value
end

---------------------------------------------------------------------------------------------------------------------
-- DER: SubjectPublicKeyInfo from JWK members (what importPublicKey takes) and ECDSA signatures from r||s.

local function der_length(n)
  if n < 0x80 then return char(n) end
  if n < 0x100 then return char(0x81, n) end
  return char(0x82, rshift(n, 8), band(n, 255))
end

local function der(tag, content)
  return char(tag) .. der_length(#content) .. content
end

-- A non-negative big-endian integer: no redundant leading zeros, and a zero byte in front of a set high bit.
local function der_unsigned(bytes)
  local first = find(bytes, "[^%z]") or #bytes
  bytes = sub(bytes, first)
  if byte(bytes, 1) >= 0x80 then bytes = "\0" .. bytes end
  return der(0x02, bytes)
end

local OID_RSA_ENCRYPTION = "\6\9\42\134\72\134\247\13\1\1\1"
local OID_EC_PUBLIC_KEY = "\6\7\42\134\72\206\61\2\1"
local EC_CURVES = {
  ["P-256"] = { oid = "\6\8\42\134\72\206\61\3\1\7", size = 32, alg = "ES256", hash = "SHA256" },
  ["P-384"] = { oid = "\6\5\43\129\4\0\34", size = 48, alg = "ES384", hash = "SHA384" },
}

local function rsa_spki(n, e)
  local algorithm = der(0x30, OID_RSA_ENCRYPTION .. "\5\0")
  local key = der(0x30, der_unsigned(n) .. der_unsigned(e))
  return der(0x30, algorithm .. der(0x03, "\0" .. key))
end

local function ec_spki(curve, x, y)
  local algorithm = der(0x30, OID_EC_PUBLIC_KEY .. curve.oid)
  return der(0x30, algorithm .. der(0x03, "\0\4" .. x .. y))
end

-- JWS ECDSA signatures are r||s, each exactly `size` bytes (RFC 7518 section 3.4).
local function ecdsa_der_signature(raw, size)
  if #raw ~= 2 * size then return nil end
  return der(0x30, der_unsigned(sub(raw, 1, size)) .. der_unsigned(sub(raw, size + 1)))
end

local RSA_HASHES = { RS256 = "SHA256", RS384 = "SHA384", RS512 = "SHA512" }

---------------------------------------------------------------------------------------------------------------------
-- Configuration, checked once per worker when Envoy loads the script.

local function config_error(path, message)
  error(NAME .. ": " .. path .. " " .. message, 0)
end

local function check_keys(tbl, path, allowed)
  if type(tbl) ~= "table" then config_error(path, "must be an object") end
  for key in pairs(tbl) do
    if not allowed[key] then config_error(path .. "." .. tostring(key), "is not a known field") end
  end
end

local function parse_jwks(text, path)
  local jwks, err = json_decode(text)
  if not jwks then config_error(path, "is not valid JSON (" .. err .. ")") end
  if type(jwks) ~= "table" or type(jwks.keys) ~= "table" then config_error(path, "has no [keys] array") end
  local keys = {}
  for i, jwk in ipairs(jwks.keys) do
    local where = path .. ".keys[" .. (i - 1) .. "]"
    local key = { kid = type(jwk.kid) == "string" and jwk.kid or nil, alg = type(jwk.alg) == "string" and jwk.alg or nil }
    if jwk.kty == "RSA" then
      local n, e = type(jwk.n) == "string" and base64url_decode(jwk.n), type(jwk.e) == "string" and base64url_decode(jwk.e)
      if not n or not e or #n == 0 or #e == 0 then config_error(where, "RSA [n] or [e] is missing or not base64url") end
      key.kty, key.der = "RSA", rsa_spki(n, e)
    elseif jwk.kty == "EC" then
      local curve = EC_CURVES[jwk.crv]
      if not curve then config_error(where .. ".crv", "must be P-256 or P-384") end
      local x, y = type(jwk.x) == "string" and base64url_decode(jwk.x), type(jwk.y) == "string" and base64url_decode(jwk.y)
      if not x or not y or #x ~= curve.size or #y ~= curve.size then
        config_error(where, "EC [x] or [y] is missing or has the wrong length")
      end
      key.kty, key.curve, key.der = "EC", curve, ec_spki(curve, x, y)
    end
    -- Keys this baseline cannot use (oct, OKP) are skipped, as a verifier skips keys it does not know.
    if key.der then keys[#keys + 1] = key end
  end
  if #keys == 0 then config_error(path, "has no RSA or EC key this filter can use") end
  return keys
end

local PROVIDER_FIELDS = {
  issuer = true, audiences = true, local_jwks = true, from_headers = true, forward = true,
  clock_skew_seconds = true, claim_to_headers = true, jwt_cache_config = true,
}

local function parse_provider(name, p)
  local path = "providers." .. name
  check_keys(p, path, PROVIDER_FIELDS)
  if p.issuer ~= nil and type(p.issuer) ~= "string" then config_error(path .. ".issuer", "must be a string") end
  local audiences = {}
  for i, aud in ipairs(p.audiences or {}) do
    if type(aud) ~= "string" then config_error(path .. ".audiences[" .. (i - 1) .. "]", "must be a string") end
    audiences[aud] = true
  end
  if type(p.local_jwks) ~= "table" or type(p.local_jwks.inline_string) ~= "string" then
    config_error(path .. ".local_jwks.inline_string", "must be a JWKS JSON string (remote_jwks is not supported)")
  end
  local from_headers = {}
  for i, h in ipairs(p.from_headers or { { name = "authorization", value_prefix = "Bearer " } }) do
    if type(h.name) ~= "string" then config_error(path .. ".from_headers[" .. (i - 1) .. "].name", "must be a string") end
    from_headers[i] = { name = string.lower(h.name), prefix = h.value_prefix or "" }
  end
  local claim_to_headers = {}
  for i, c in ipairs(p.claim_to_headers or {}) do
    if type(c.header_name) ~= "string" or type(c.claim_name) ~= "string" then
      config_error(path .. ".claim_to_headers[" .. (i - 1) .. "]", "needs header_name and claim_name strings")
    end
    claim_to_headers[i] = { header = string.lower(c.header_name), claim = c.claim_name }
  end
  local skew = p.clock_skew_seconds or 60
  if type(skew) ~= "number" or skew < 0 then config_error(path .. ".clock_skew_seconds", "must be >= 0") end
  if skew == 0 then skew = 60 end -- jwt_authn reads 0, the proto default, as 60 seconds
  -- Like jwt_authn: no cache unless jwt_cache_config is given; a size of 0 means the default, 100.
  local cache_size = 0
  if p.jwt_cache_config ~= nil then
    check_keys(p.jwt_cache_config, path .. ".jwt_cache_config", { jwt_cache_size = true })
    cache_size = p.jwt_cache_config.jwt_cache_size or 100
    if type(cache_size) ~= "number" or cache_size < 0 then config_error(path .. ".jwt_cache_config.jwt_cache_size", "must be >= 0") end
    if cache_size == 0 then cache_size = 100 end
  end
  return {
    name = name, issuer = p.issuer, audiences = audiences, has_audiences = next(audiences) ~= nil,
    keys = parse_jwks(p.local_jwks.inline_string, path .. ".local_jwks.inline_string"),
    from_headers = from_headers, forward = p.forward == true, skew = skew, claim_to_headers = claim_to_headers,
    cache = { size = cache_size, young = {}, old = {}, count = 0 },
  }
end

local function parse_config(c)
  check_keys(c, "config", { providers = true, rules = true })
  local providers = {}
  if type(c.providers) ~= "table" or next(c.providers) == nil then config_error("providers", "must name at least one provider") end
  for name, p in pairs(c.providers) do providers[name] = parse_provider(name, p) end
  local rules = {}
  for i, r in ipairs(c.rules or {}) do
    local path = "rules[" .. (i - 1) .. "]"
    check_keys(r, path, { match = true, requires = true })
    check_keys(r.match, path .. ".match", { prefix = true, path = true })
    local rule = { prefix = r.match.prefix, exact = r.match.path }
    if (rule.prefix == nil) == (rule.exact == nil) then config_error(path .. ".match", "needs exactly one of prefix, path") end
    if r.requires ~= nil then
      check_keys(r.requires, path .. ".requires", { provider_name = true })
      rule.provider = providers[r.requires.provider_name]
      if not rule.provider then config_error(path .. ".requires.provider_name", "names no provider") end
    end
    rules[i] = rule
  end
  if #rules == 0 then config_error("rules", "must have at least one rule") end
  return { providers = providers, rules = rules }
end

local config = parse_config(CONFIG)

---------------------------------------------------------------------------------------------------------------------
-- Verified-token cache, one per provider: a map from the full token (never a hash of it) to what verification
-- established. Two generations give O(1) eviction without a linked list: when the young one holds jwt_cache_size
-- tokens it becomes the old one and the previous old one is dropped, so at most twice the size is kept.

local function cache_get(cache, token)
  local entry = cache.young[token]
  if entry then return entry end
  entry = cache.old[token]
  if entry then
    cache.old[token] = nil
    cache.young[token] = entry
    cache.count = cache.count + 1
  end
  return entry
end

local function cache_put(cache, token, entry)
  if cache.size == 0 then return end
  if cache.count >= cache.size then
    cache.old, cache.young, cache.count = cache.young, {}, 0
  end
  cache.young[token] = entry
  cache.count = cache.count + 1
end

---------------------------------------------------------------------------------------------------------------------
-- Per request.

local function deny(handle, status, message, path)
  local authority = handle:headers():get(":authority") or ""
  local realm = 'Bearer realm="http://' .. authority .. (path or "") .. '"'
  if message ~= "Jwt is missing" then realm = realm .. ', error="invalid_token"' end
  handle:respond({ [":status"] = tostring(status), ["www-authenticate"] = realm, ["content-type"] = "text/plain" }, message)
end

local function find_rule(path)
  local bare = path
  local query = find(path, "?", 1, true)
  if query then bare = sub(path, 1, query - 1) end
  for _, rule in ipairs(config.rules) do
    if rule.exact then
      if bare == rule.exact then return rule end
    elseif sub(path, 1, #rule.prefix) == rule.prefix then
      return rule
    end
  end
  return nil
end

local function extract_token(headers, provider)
  for _, source in ipairs(provider.from_headers) do
    local value = headers:get(source.name)
    if value then
      if sub(value, 1, #source.prefix) == source.prefix then return sub(value, #source.prefix + 1), source.name end
    end
  end
  return nil
end

local function is_object(v)
  return type(v) == "table" and v ~= JSON_NULL and getmetatable(v) ~= JSON_ARRAY
end

local function is_uint(v)
  return type(v) == "number" and v >= 0 and v % 1 == 0
end

local function audience_allowed(provider, aud)
  if not provider.has_audiences then return true end
  if type(aud) == "string" then return provider.audiences[aud] == true end
  if type(aud) == "table" then
    for _, a in ipairs(aud) do
      if provider.audiences[a] then return true end
    end
  end
  return false
end

local function pick_key(provider, alg, kid)
  for _, key in ipairs(provider.keys) do
    local fits = (key.kty == "RSA" and RSA_HASHES[alg] ~= nil) or (key.kty == "EC" and key.curve.alg == alg)
    if fits and (key.alg == nil or key.alg == alg) and (kid == nil or key.kid == nil or key.kid == kid) then
      return key
    end
  end
  return nil
end

-- The algorithms jwt_authn knows (others are refused as unsupported before any key is looked at).
local KNOWN_ALGS = {
  RS256 = true, RS384 = true, RS512 = true, PS256 = true, PS384 = true, PS512 = true, ES256 = true, ES384 = true,
  ES512 = true, HS256 = true, HS384 = true, HS512 = true, EdDSA = true,
}

local function is_string_list(v)
  if type(v) == "string" then return true end
  if type(v) ~= "table" or getmetatable(v) ~= JSON_ARRAY then return false end
  for _, item in ipairs(v) do
    if type(item) ~= "string" then return false end
  end
  return true
end

-- Parses the token as jwt_verify_lib does, with its messages. Returns the parts, or nil and a message.
local function parse_token(token)
  local sections = {}
  for section in string.gmatch(token, "[^.]+") do
    sections[#sections + 1] = section
    if #sections > 3 then break end
  end
  if #sections ~= 3 then return nil, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections" end
  local header_json = base64url_decode(sections[1])
  if not header_json then return nil, "Jwt header is an invalid Base64url encoded" end
  local header = json_decode(header_json)
  if not is_object(header) then return nil, "Jwt header is an invalid JSON" end
  local alg, kid = header.alg, header.kid
  if type(alg) ~= "string" then return nil, "Jwt header [alg] field is required and must be a string" end
  if not KNOWN_ALGS[alg] then return nil, "Jwt header [alg] is not supported" end
  if kid ~= nil and type(kid) ~= "string" then return nil, "Jwt header [kid] field is not a string" end
  local payload_json = base64url_decode(sections[2])
  if not payload_json then return nil, "Jwt payload is an invalid Base64url encoded" end
  local payload = json_decode(payload_json)
  if not is_object(payload) then return nil, "Jwt payload is an invalid JSON" end
  for _, claim in ipairs({ "iss", "sub", "jti" }) do
    if payload[claim] ~= nil and type(payload[claim]) ~= "string" then
      return nil, "Jwt payload [" .. claim .. "] field is not a string"
    end
  end
  for _, claim in ipairs({ "iat", "nbf", "exp" }) do
    if payload[claim] ~= nil and not is_uint(payload[claim]) then
      return nil, "Jwt payload [" .. claim .. "] field is not an integer"
    end
  end
  if payload.aud ~= nil and not is_string_list(payload.aud) then
    return nil, "Jwt payload [aud] field is not a string or string list"
  end
  local signature = base64url_decode(sections[3])
  if not signature then return nil, "Jwt signature is an invalid Base64url encoded" end
  return { alg = alg, kid = kid, payload = payload, signature = signature, signed = sections[1] .. "." .. sections[2] }
end

-- Returns nil when the token is good (and the payload), or a status and a message.
local function verify(handle, provider, token, now)
  local jwt, problem = parse_token(token)
  if not jwt then return 401, problem end
  local payload, alg, kid, signature = jwt.payload, jwt.alg, jwt.kid, jwt.signature

  -- jwt_authn's order: time, issuer, audience, then the signature.
  if payload.nbf and now + provider.skew < payload.nbf then return 401, "Jwt not yet valid" end
  if payload.exp and now > payload.exp + provider.skew then return 401, "Jwt is expired" end
  if provider.issuer and payload.iss ~= provider.issuer then return 401, "Jwt issuer is not configured" end
  if not audience_allowed(provider, payload.aud) then return 403, "Audiences in Jwt are not allowed" end

  local key = pick_key(provider, alg, kid)
  if not key then return 401, "Jwks doesn't have key to match kid or alg from Jwt" end
  local hash = RSA_HASHES[alg]
  if key.kty == "EC" then
    hash = key.curve.hash
    signature = ecdsa_der_signature(signature, key.curve.size)
    if not signature then return 401, "Jwt verification fails" end
  end
  local public_key = handle:importPublicKey(key.der, #key.der):get()
  if not public_key then return 401, "Jwt verification fails" end
  local signed = jwt.signed
  local ok = handle:verifySignature(hash, public_key, signature, #signature, signed, #signed)
  if not ok then return 401, "Jwt verification fails" end
  return nil, payload
end

local function claim_value(v)
  if type(v) == "string" then return v end
  if type(v) == "number" then return string.format("%.17g", v) end
  if type(v) == "boolean" then return tostring(v) end
  return nil
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local path = headers:get(":path") or "/"
  local rule = find_rule(path)
  if not rule or not rule.provider then return end
  local provider = rule.provider

  -- Claim headers are only ever written from a verified token: drop whatever the client sent.
  for _, c in ipairs(provider.claim_to_headers) do headers:remove(c.header) end

  local token, source = extract_token(headers, provider)
  if not token then return deny(handle, 401, "Jwt is missing", path) end

  local now = os.time()
  local payload
  local cached = provider.cache.size > 0 and cache_get(provider.cache, token)
  if cached and now <= cached.expires then
    payload = cached.payload
  else
    local status, result = verify(handle, provider, token, now)
    if status then return deny(handle, status, result, path) end
    payload = result
    cache_put(provider.cache, token, { payload = payload, expires = (payload.exp or math.huge) + provider.skew })
  end

  for _, c in ipairs(provider.claim_to_headers) do
    local value = claim_value(payload[c.claim])
    if value then headers:replace(c.header, value) end
  end
  if not provider.forward then headers:remove(source) end
end
