-- Istio-style request metrics in Envoy's Lua filter: the Lua baseline of the metrics Wasm filter.
--
-- Per request it does the Wasm filter's work with what the Lua API offers: read the label values, sanitize them,
-- encode the label set into the stat name the way Istio's Wasm stats filter does
--   reporter=.=destination;.;source_workload=.=unknown;.;...;.;istio_requests_total
-- cap the number of label sets, and record istio_requests_total plus the three histograms
-- (istio_request_duration_milliseconds, istio_request_bytes, istio_response_bytes) through the Lua stats API
-- (handle:stats(), new in recent Envoy releases: counters and histograms with names chosen at run time).
--
-- Where it differs from the Wasm filter, and why the cost is still comparable:
--   * Stats land under the Lua filter's scope (http.<listener>.lua.<stat_prefix>.<name>), not `wasmcustom.`; the
--     bootstrap's stats_tags extract the same labels from either. The stat lookups (Envoy's symbol table) are the
--     same kind of work for both.
--   * Lua runs at response headers, not at the access log: the duration is measured from the request headers to
--     the response headers, sizes come from content-length (0 when absent), not from Envoy's byte counters.
--   * The Lua API exposes no response flags, no listener direction and no xDS attributes: response_flags is
--     always "-", the reporter comes from the configuration (default destination), and destination_service from
--     the configuration or :authority.
--   * The cardinality cap is per worker (Lua states share nothing); the Wasm filter's is Envoy-wide.
--   * State from the request to the response travels in the stream's dynamic metadata, the Lua API's only way.
--   * Place it first in the chain: a response another filter sends itself (a 401, a 429) then passes through it.
--
-- Configuration: a `CONFIG` table defined before this script (envoy/lua/index.ts prepends it), with the Wasm
-- filter's fields: reporter ("destination" | "source"), workload = { name, namespace, principal, service,
-- service_name }, dimensions = { label names }, extra_dimensions = { { name, request_header | response_header } },
-- histogram_buckets (accepted; boundaries are the bootstrap's), max_label_sets, max_value_length.
if type(CONFIG) ~= "table" then error("metrics(lua): no CONFIG table precedes the script", 0) end

local find, sub, gsub = string.find, string.sub, string.gsub

local NAME = "metrics(lua)"
local UNKNOWN, OVERFLOW = "unknown", "other"
local STANDARD_LABELS = {
  "reporter", "source_workload", "source_workload_namespace", "source_principal", "destination_workload",
  "destination_workload_namespace", "destination_service", "destination_service_name", "request_protocol",
  "response_code", "response_flags", "grpc_response_status", "connection_security_policy",
}

---------------------------------------------------------------------------------------------------------------------
-- Configuration, checked once per worker when Envoy loads the script.

local function config_error(path, message)
  error(NAME .. ": " .. path .. " " .. message, 0)
end

local function check_fields(tbl, path, allowed)
  if type(tbl) ~= "table" then config_error(path, "must be an object") end
  for key in pairs(tbl) do
    if not allowed[key] then config_error((path == "" and "" or path .. ".") .. tostring(key), "is not a known field") end
  end
end

local function set(list)
  local result = {}
  for _, v in ipairs(list) do result[v] = true end
  return result
end

local function positive_integer(value, path, default, max)
  if value == nil then return default end
  if type(value) ~= "number" or value % 1 ~= 0 or value < 1 or value > max then
    config_error(path, "must be an integer from 1 to " .. max)
  end
  return value
end

-- A label value keeps letters, digits and `_ - . / : @ + ~ *`; anything else (the separators `=` and `;`, quotes,
-- control characters, non-ASCII) becomes `_`. Cut to the maximum length, trailing dots dropped, empty -> unknown.
local function sanitize(value, max_length)
  if value == nil or value == "" then return UNKNOWN end
  value = gsub(sub(value, 1, max_length), "[^%w_%-%./:@%+~%*]", "_")
  value = gsub(value, "%.+$", "")
  if value == "" then return UNKNOWN end
  return value
end

local function parse_config(c)
  check_fields(c, "", set({ "reporter", "workload", "dimensions", "extra_dimensions", "histogram_buckets",
    "max_label_sets", "max_value_length" }))
  local max_length = positive_integer(c.max_value_length, "max_value_length", 128, 1024)
  local reporter = c.reporter or "destination"
  if reporter ~= "destination" and reporter ~= "source" then
    config_error("reporter", "must be \"destination\" or \"source\" (Lua cannot read the listener direction)")
  end
  local w = c.workload or {}
  check_fields(w, "workload", set({ "name", "namespace", "principal", "service", "service_name" }))
  local workload = {}
  for _, field in ipairs({ "name", "namespace", "principal", "service", "service_name" }) do
    if w[field] ~= nil and type(w[field]) ~= "string" then config_error("workload." .. field, "must be a string") end
    workload[field] = w[field] and sanitize(w[field], max_length)
  end
  local dimensions = {}
  local known = set(STANDARD_LABELS)
  for i, name in ipairs(c.dimensions or STANDARD_LABELS) do
    if not known[name] then config_error("dimensions[" .. (i - 1) .. "]", "is not one of Istio's standard labels") end
    dimensions[i] = name
  end
  local extras = {}
  for i, e in ipairs(c.extra_dimensions or {}) do
    local path = "extra_dimensions[" .. (i - 1) .. "]"
    check_fields(e, path, set({ "name", "request_header", "response_header" }))
    if type(e.name) ~= "string" or not find(e.name, "^[%a_][%w_]*$") then config_error(path .. ".name", "must be a label name") end
    if (e.request_header == nil) == (e.response_header == nil) then
      config_error(path, "needs exactly one of request_header, response_header (Lua reads no properties)")
    end
    extras[i] = { name = e.name, request_header = e.request_header, response_header = e.response_header }
  end
  return {
    max_length = max_length,
    source_reporter = reporter == "source",
    workload = workload,
    dimensions = dimensions,
    extras = extras,
    max_label_sets = positive_integer(c.max_label_sets, "max_label_sets", 1000, 100000),
  }
end

local config = parse_config(CONFIG)
local local_name = config.workload.name or UNKNOWN
local local_namespace = config.workload.namespace or UNKNOWN

---------------------------------------------------------------------------------------------------------------------
-- Label values.

local function host_without_port(authority)
  if sub(authority, 1, 1) == "[" then
    local close = find(authority, "]", 1, true)
    return close and sub(authority, 1, close) or authority
  end
  return (gsub(authority, ":%d*$", ""))
end

local function short_name(host)
  if host == UNKNOWN or find(host, "^[%d%.]+$") or sub(host, 1, 1) == "[" then return host end
  local dot = find(host, ".", 1, true)
  if not dot or dot == 1 then return host end
  return sub(host, 1, dot - 1)
end

local function spiffe_namespace(principal)
  return principal and string.match(principal, "^spiffe://[^/]*/ns/([^/]+)") or nil
end

-- The labels known at request time, in the order of `config.dimensions` (response-side ones filled in later).
local function request_labels(handle, headers)
  local values = {}
  local source = config.source_reporter
  local ssl = handle:streamInfo():downstreamSslConnection()
  local peer
  if ssl and ssl:peerCertificatePresented() then
    local sans = ssl:uriSanPeerCertificate()
    peer = sans and sans[1]
  end
  local service = config.workload.service
  if source or not service then
    local authority = headers:get(":authority")
    service = authority and sanitize(host_without_port(authority), config.max_length) or UNKNOWN
  end
  local grpc = find(headers:get("content-type") or "", "^application/grpc") ~= nil
  for i, name in ipairs(config.dimensions) do
    local v
    if name == "reporter" then v = source and "source" or "destination"
    elseif name == "source_workload" then v = source and local_name or UNKNOWN
    elseif name == "source_workload_namespace" then
      v = source and local_namespace or spiffe_namespace(peer) or UNKNOWN
    elseif name == "source_principal" then
      v = source and (config.workload.principal or UNKNOWN) or sanitize(peer, config.max_length)
    elseif name == "destination_workload" then v = source and UNKNOWN or local_name
    elseif name == "destination_workload_namespace" then v = source and UNKNOWN or local_namespace
    elseif name == "destination_service" then v = service
    elseif name == "destination_service_name" then
      v = (not source and config.workload.service_name) or short_name(service)
    elseif name == "request_protocol" then v = grpc and "grpc" or "http"
    elseif name == "response_flags" then v = "-" -- not visible to Lua
    elseif name == "grpc_response_status" then v = grpc and UNKNOWN or ""
    elseif name == "connection_security_policy" then
      v = source and UNKNOWN or ((ssl and ssl:peerCertificateValidated()) and "mutual_tls" or "none")
    end
    values[i] = v or UNKNOWN -- response_code (and a gRPC status) are filled in at the response
  end
  for i, extra in ipairs(config.extras) do
    if extra.request_header then
      values[#config.dimensions + i] = sanitize(headers:get(extra.request_header), config.max_length)
    end
  end
  return values, grpc
end

---------------------------------------------------------------------------------------------------------------------
-- Series: the label-set prefix of the stat names, capped per worker.

local label_names = {}
for i, name in ipairs(config.dimensions) do label_names[i] = name end
for i, extra in ipairs(config.extras) do label_names[#config.dimensions + i] = extra.name end

local seen, seen_count = {}, 0
local overflow_prefix
do
  local parts = {}
  for i, name in ipairs(label_names) do parts[i] = name .. "=.=" .. OVERFLOW .. ";.;" end
  overflow_prefix = table.concat(parts)
end

local function series_prefix(handle, values)
  local parts = {}
  for i, name in ipairs(label_names) do parts[i] = name .. "=.=" .. values[i] .. ";.;" end
  local prefix = table.concat(parts)
  if seen[prefix] then return prefix end
  if seen_count >= config.max_label_sets then
    handle:stats():counter("as_mesh_metrics_overflow_total"):inc()
    return overflow_prefix
  end
  seen[prefix] = true
  seen_count = seen_count + 1
  return prefix
end

---------------------------------------------------------------------------------------------------------------------
-- Per request.

local function size(value)
  return tonumber(value or "") or 0
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local values, grpc = request_labels(handle, headers)
  handle:streamInfo():dynamicMetadata():set(NAME, "request", {
    labels = values, grpc = grpc, start = handle:timestamp(), bytes = size(headers:get("content-length")),
  })
end

function envoy_on_response(handle)
  local metadata = handle:streamInfo():dynamicMetadata():get(NAME)
  local request = metadata and metadata.request
  if not request then return end -- the request never reached this filter (answered earlier in the chain)
  local headers = handle:headers()
  local values = request.labels
  for i, name in ipairs(config.dimensions) do
    if name == "response_code" then values[i] = headers:get(":status") or UNKNOWN
    elseif name == "grpc_response_status" and request.grpc then values[i] = headers:get("grpc-status") or UNKNOWN
    end
  end
  for i, extra in ipairs(config.extras) do
    if extra.response_header then
      values[#config.dimensions + i] = sanitize(headers:get(extra.response_header), config.max_length)
    end
  end
  local prefix = series_prefix(handle, values)
  local stats = handle:stats()
  stats:counter(prefix .. "istio_requests_total"):inc()
  stats:histogram(prefix .. "istio_request_duration_milliseconds", "ms"):recordValue(math.floor(handle:timestamp() - request.start))
  stats:histogram(prefix .. "istio_request_bytes", "bytes"):recordValue(request.bytes)
  stats:histogram(prefix .. "istio_response_bytes", "bytes"):recordValue(size(headers:get("content-length")))
end
