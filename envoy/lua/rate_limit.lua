-- Token-bucket rate limiting in Envoy's Lua filter: the Lua baseline of the rate-limit Wasm filter. Same
-- configuration words (local_ratelimit's token_bucket), same rule matching and bucket keys, same bucket
-- arithmetic, same 429 answer and headers, same per-rule counters.
--
-- What Lua cannot do: share the buckets. Envoy gives every worker thread its own Lua state and the Lua API has
-- no shared memory, so each worker keeps its own buckets and an Envoy with N workers admits up to N times the
-- limit (tests/e2e/lua_rate_limit.test.ts measures it with --concurrency 2). The Wasm filter keeps its buckets in
-- proxy-wasm shared data with compare-and-swap and holds the limit for the whole Envoy. The benchmark runs one
-- worker, where both give the same answers, so the comparison is of per-request cost.
--
-- Configuration: a `CONFIG` table defined before this script (envoy/lua/index.ts prepends it), with the Wasm
-- filter's fields:
--   stat_prefix, shadow_mode, enable_x_ratelimit_headers ("OFF" | "DRAFT_VERSION_03"), max_buckets,
--   on_table_full ("shared_bucket" | "deny" | "allow"), failure_mode_deny (accepted; Lua has no CAS to fail),
--   rules = { { name, match = { path_prefix, method, headers = { { name, exact | present } } },
--               descriptors = { { request_headers = { header_name, on_missing } } | { remote_address = {
--                 xff_num_trusted_hops } } | { path_prefix = { segments } } | { request_method = {} }
--                 | { jwt_claim = { header_name, on_missing } } | { generic_key = { descriptor_value } } },
--               token_bucket = { max_tokens, tokens_per_fill, fill_interval = "1s" }, cost, max_buckets,
--               shadow_mode, on_table_full } },
--   default_rule = { same fields as a rule, without name and match }
-- A configuration this script does not understand fails at load time, so Envoy refuses it.
if type(CONFIG) ~= "table" then error("rate-limit(lua): no CONFIG table precedes the script", 0) end

local find, sub, floor, tostring = string.find, string.sub, math.floor, tostring

local NAME = "rate-limit(lua)"
local DEFAULT_MAX_BUCKETS = 1024 -- the Wasm filter's default

---------------------------------------------------------------------------------------------------------------------
-- Configuration, checked once per worker when Envoy loads the script.

local function config_error(path, message)
  error(NAME .. ": " .. path .. " " .. message, 0)
end

local function join(path, field)
  if path == "" then return field end
  return path .. "." .. field
end

local function check_fields(tbl, path, allowed)
  if type(tbl) ~= "table" then config_error(path, "must be an object") end
  for key in pairs(tbl) do
    if not allowed[key] then config_error(join(path, tostring(key)), "is not a known field") end
  end
end

local function set(...)
  local result = {}
  for _, v in ipairs({ ... }) do result[v] = true end
  return result
end

local function integer(value, path, min, default)
  if value == nil then
    if default == nil then config_error(path, "is required") end
    return default
  end
  if type(value) ~= "number" or value % 1 ~= 0 or value < min then config_error(path, "must be an integer >= " .. min) end
  return value
end

local DURATION_UNITS = { ms = 1, s = 1000, m = 60000, h = 3600000 }

local function duration_ms(text, path)
  if type(text) ~= "string" then config_error(path, "must be a duration like \"1s\" or \"500ms\"") end
  local number, unit = string.match(text, "^(%d+)(%a+)$")
  local scale = unit and DURATION_UNITS[unit]
  local ms = scale and tonumber(number) * scale
  if not ms or ms <= 0 or ms > 86400000 then config_error(path, "must be a positive duration like \"1s\" or \"500ms\", at most 24h") end
  return ms
end

local TABLE_FULL = set("shared_bucket", "deny", "allow")

local function parse_descriptor(d, path)
  if type(d) ~= "table" then config_error(path, "must be an object") end
  local kind, body = next(d)
  if kind == nil or next(d, kind) ~= nil then config_error(path, "must have exactly one descriptor kind") end
  path = join(path, kind)
  if kind == "request_headers" or kind == "jwt_claim" then
    check_fields(body, path, set("header_name", "on_missing"))
    if type(body.header_name) ~= "string" or body.header_name ~= string.lower(body.header_name) then
      config_error(join(path, "header_name"), "must be a lower-case header name")
    end
    local on_missing = body.on_missing or "shared_bucket"
    if on_missing ~= "shared_bucket" and on_missing ~= "skip_rule" then
      config_error(join(path, "on_missing"), "must be \"shared_bucket\" or \"skip_rule\"")
    end
    return { kind = "header", header = body.header_name, skip_when_missing = on_missing == "skip_rule" }
  elseif kind == "remote_address" then
    check_fields(body, path, set("xff_num_trusted_hops"))
    return { kind = "remote_address", hops = integer(body.xff_num_trusted_hops, join(path, "xff_num_trusted_hops"), 0, 0) }
  elseif kind == "path_prefix" then
    check_fields(body, path, set("segments"))
    return { kind = "path_prefix", segments = integer(body.segments, join(path, "segments"), 1, 1) }
  elseif kind == "request_method" then
    check_fields(body, path, {})
    return { kind = "method" }
  elseif kind == "generic_key" then
    check_fields(body, path, set("descriptor_value"))
    if type(body.descriptor_value) ~= "string" or body.descriptor_value == "" then
      config_error(join(path, "descriptor_value"), "must be a non-empty string")
    end
    return { kind = "constant", value = body.descriptor_value }
  end
  config_error(path, "is an unknown descriptor kind")
end

local function parse_match(m, path)
  if m == nil then return {} end
  check_fields(m, path, set("path_prefix", "method", "headers"))
  local match = { path_prefix = m.path_prefix, method = m.method, headers = {} }
  for i, h in ipairs(m.headers or {}) do
    local hpath = path .. ".headers[" .. (i - 1) .. "]"
    check_fields(h, hpath, set("name", "exact", "present"))
    if type(h.name) ~= "string" then config_error(join(hpath, "name"), "must be a header name") end
    match.headers[i] = { name = h.name, exact = h.exact, present = h.present ~= false }
  end
  return match
end

local function parse_rule(r, path, is_default, defaults)
  check_fields(r, path, is_default and set("name", "descriptors", "token_bucket", "cost", "max_buckets", "shadow_mode", "on_table_full")
    or set("name", "match", "descriptors", "token_bucket", "cost", "max_buckets", "shadow_mode", "on_table_full"))
  local name = r.name or (is_default and "default")
  if type(name) ~= "string" or not find(name, "^[%w_-]+$") then config_error(join(path, "name"), "must be [A-Za-z0-9_-]") end
  local tb = r.token_bucket
  check_fields(tb, join(path, "token_bucket"), set("max_tokens", "tokens_per_fill", "fill_interval"))
  local bucket = {
    max_tokens = integer(tb.max_tokens, join(path, "token_bucket.max_tokens"), 1),
    per_fill = integer(tb.tokens_per_fill, join(path, "token_bucket.tokens_per_fill"), 1, 1),
    interval = duration_ms(tb.fill_interval, join(path, "token_bucket.fill_interval")),
  }
  local fills_to_full = math.ceil(bucket.max_tokens / bucket.per_fill)
  local rule = {
    name = name,
    match = is_default and {} or parse_match(r.match, join(path, "match")),
    descriptors = {},
    bucket = bucket,
    cost = integer(r.cost, join(path, "cost"), 1, 1),
    max_buckets = integer(r.max_buckets, join(path, "max_buckets"), 1, defaults.max_buckets),
    shadow = r.shadow_mode == nil and defaults.shadow or r.shadow_mode == true,
    on_table_full = r.on_table_full or defaults.on_table_full,
    -- Per-worker state: buckets by key, how many, and the overflow bucket for keys that find the table full.
    buckets = {}, live = 0, overflow = nil,
    -- Header values that never change.
    limit_text = tostring(bucket.max_tokens),
    policy = '"' .. name .. '";q=' .. bucket.max_tokens .. ";w=" .. math.ceil(fills_to_full * bucket.interval / 1000),
  }
  if rule.cost > bucket.max_tokens then config_error(join(path, "cost"), "must be <= token_bucket.max_tokens") end
  if not TABLE_FULL[rule.on_table_full] then config_error(join(path, "on_table_full"), "must be shared_bucket, deny or allow") end
  if type(r.descriptors) ~= "table" or #r.descriptors == 0 then config_error(join(path, "descriptors"), "must list at least one descriptor") end
  for i, d in ipairs(r.descriptors) do rule.descriptors[i] = parse_descriptor(d, path .. ".descriptors[" .. (i - 1) .. "]") end
  return rule
end

local function parse_config(c)
  check_fields(c, "", set("stat_prefix", "rules", "default_rule", "shadow_mode", "enable_x_ratelimit_headers",
    "failure_mode_deny", "max_buckets", "on_table_full"))
  local prefix = c.stat_prefix or "rate_limit"
  if type(prefix) ~= "string" or not find(prefix, "^[%w_-]+$") then config_error("stat_prefix", "must be [A-Za-z0-9_-]") end
  local headers_mode = c.enable_x_ratelimit_headers or "OFF"
  if headers_mode ~= "OFF" and headers_mode ~= "DRAFT_VERSION_03" then
    config_error("enable_x_ratelimit_headers", "must be \"OFF\" or \"DRAFT_VERSION_03\"")
  end
  local defaults = {
    shadow = c.shadow_mode == true,
    on_table_full = c.on_table_full or "shared_bucket",
    max_buckets = integer(c.max_buckets, "max_buckets", 1, DEFAULT_MAX_BUCKETS),
  }
  local rules = {}
  for i, r in ipairs(c.rules or {}) do rules[i] = parse_rule(r, "rules[" .. (i - 1) .. "]", false, defaults) end
  if c.default_rule ~= nil then rules[#rules + 1] = parse_rule(c.default_rule, "default_rule", true, defaults) end
  if #rules == 0 then config_error("rules", "must have at least one rule (or a default_rule)") end
  for _, rule in ipairs(rules) do
    local stat = "ratelimit." .. prefix .. "." .. rule.name
    rule.stats = { allowed = stat .. ".allowed", limited = stat .. ".limited", shadow = stat .. ".shadow_limited",
      table_full = stat .. ".table_full" }
  end
  return { rules = rules, headers_on_allowed = headers_mode == "DRAFT_VERSION_03" }
end

local config = parse_config(CONFIG)

---------------------------------------------------------------------------------------------------------------------
-- Token buckets: local_ratelimit's arithmetic, refilled lazily from the clock, fills anchored at creation.

local function refill(bucket, state, now)
  if now <= state.last_fill then return end
  local fills = floor((now - state.last_fill) / bucket.interval)
  if fills == 0 then return end
  state.last_fill = state.last_fill + fills * bucket.interval
  state.tokens = math.min(bucket.max_tokens, state.tokens + fills * bucket.per_fill)
end

local function ms_until_available(bucket, state, now, cost)
  if state.tokens >= cost then return 0 end
  local fills = math.ceil((cost - state.tokens) / bucket.per_fill)
  return math.max(0, state.last_fill + fills * bucket.interval - now)
end

-- The bucket of `key`, created full; nil when the table is full of live buckets (idle ones, refilled to full, are
-- dropped first: a full bucket is indistinguishable from a new one).
local function bucket_for(rule, key, now)
  local state = rule.buckets[key]
  if state then
    refill(rule.bucket, state, now)
    return state
  end
  if rule.live >= rule.max_buckets then
    for k, s in pairs(rule.buckets) do
      refill(rule.bucket, s, now)
      if s.tokens >= rule.bucket.max_tokens then
        rule.buckets[k] = nil
        rule.live = rule.live - 1
      end
    end
    if rule.live >= rule.max_buckets then return nil end
  end
  state = { tokens = rule.bucket.max_tokens, last_fill = now }
  rule.buckets[key] = state
  rule.live = rule.live + 1
  return state
end

---------------------------------------------------------------------------------------------------------------------
-- Rule selection and keys.

local function without_query(path)
  local stop = find(path, "[?#]")
  if stop then return sub(path, 1, stop - 1) end
  return path
end

local function matches(match, headers, path, method)
  if match.path_prefix and sub(path, 1, #match.path_prefix) ~= match.path_prefix then return false end
  if match.method and method ~= match.method then return false end
  for _, h in ipairs(match.headers) do
    local value = headers:get(h.name)
    if h.exact ~= nil then
      if value ~= h.exact then return false end
    elseif (value ~= nil) ~= h.present then
      return false
    end
  end
  return true
end

local function leading_segments(path, count)
  local stop = 1
  for _ = 1, count do
    local slash = find(path, "/", stop + 1, true)
    if not slash then return path end
    stop = slash
  end
  return sub(path, 1, stop - 1)
end

-- The client address: the downstream peer, or with N trusted hops the Nth x-forwarded-for entry from the right.
local function client_address(handle, headers, hops)
  if hops > 0 then
    local forwarded = headers:get("x-forwarded-for")
    if forwarded then
      local entries = {}
      for entry in string.gmatch(forwarded, "[^,]+") do entries[#entries + 1] = (string.gsub(entry, "^%s*(.-)%s*$", "%1")) end
      local chosen = entries[#entries - hops + 1]
      if chosen and chosen ~= "" then return chosen end
    end
  end
  local peer = handle:streamInfo():downstreamDirectRemoteAddress()
  return (string.gsub(peer, ":%d+$", ""))
end

-- The bucket key: every part length-prefixed, so two different requests never build the same key. nil: skip rule.
local function bucket_key(handle, rule, headers, path, method)
  local parts = {}
  for i, d in ipairs(rule.descriptors) do
    local value
    if d.kind == "header" then
      value = headers:get(d.header)
      if value == nil then
        if d.skip_when_missing then return nil end
        value = false -- every request without the header shares one bucket
      end
    elseif d.kind == "remote_address" then
      value = client_address(handle, headers, d.hops)
    elseif d.kind == "path_prefix" then
      value = leading_segments(path, d.segments)
    elseif d.kind == "method" then
      value = method
    else
      value = d.value
    end
    parts[i] = value and (#value .. ":" .. value) or "-"
  end
  return table.concat(parts, "|")
end

---------------------------------------------------------------------------------------------------------------------
-- Per request.

local function count(handle, name)
  handle:stats():counter(name):inc()
end

local function ratelimit_headers(out, rule, remaining, reset)
  out["x-ratelimit-limit"] = rule.limit_text
  out["x-ratelimit-remaining"] = tostring(remaining)
  out["x-ratelimit-reset"] = tostring(reset)
  out["ratelimit-policy"] = rule.policy
  out["ratelimit"] = '"' .. rule.name .. '";r=' .. remaining .. ";t=" .. reset
  return out
end

local function limit(handle, rule, state, now)
  local retry = math.max(1, math.ceil(ms_until_available(rule.bucket, state, now, rule.cost) / 1000))
  local headers = ratelimit_headers({
    [":status"] = "429", ["content-type"] = "text/plain", ["x-envoy-ratelimited"] = "true",
    ["retry-after"] = tostring(retry),
  }, rule, 0, retry)
  handle:respond(headers, "rate limited\n")
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local path = without_query(headers:get(":path") or "")
  local method = headers:get(":method") or ""
  local rule, key
  for _, candidate in ipairs(config.rules) do
    if matches(candidate.match, headers, path, method) then
      key = bucket_key(handle, candidate, headers, path, method)
      if key then
        rule = candidate
        break
      end
    end
  end
  if not rule then return end

  local now = handle:timestamp()
  local state = bucket_for(rule, key, now)
  if not state then
    count(handle, rule.stats.table_full)
    if rule.on_table_full == "allow" then return end
    if rule.on_table_full == "deny" then
      count(handle, rule.stats.limited)
      return limit(handle, rule, { tokens = 0, last_fill = now }, now)
    end
    rule.overflow = rule.overflow or { tokens = rule.bucket.max_tokens, last_fill = now }
    state = rule.overflow
    refill(rule.bucket, state, now)
  end

  if state.tokens >= rule.cost then
    state.tokens = state.tokens - rule.cost
    count(handle, rule.stats.allowed)
    if config.headers_on_allowed then
      local reset = math.ceil(math.max(0, state.last_fill + rule.bucket.interval - now) / 1000)
      -- Response headers are written on the way back; remember them in this stream's dynamic metadata.
      handle:streamInfo():dynamicMetadata():set(NAME, "headers", ratelimit_headers({}, rule, state.tokens, reset))
    end
    return
  end
  if rule.shadow then
    count(handle, rule.stats.shadow)
    return
  end
  count(handle, rule.stats.limited)
  limit(handle, rule, state, now)
end

-- Only defined when needed: Envoy runs no response coroutine for a script without envoy_on_response.
if config.headers_on_allowed then
  function envoy_on_response(handle)
    local metadata = handle:streamInfo():dynamicMetadata():get(NAME)
    if not metadata or not metadata.headers then return end
    local headers = handle:headers()
    for name, value in pairs(metadata.headers) do headers:replace(name, value) end
  end
end
