// What Istio operators often write that Istio does not have, and what Istio expects instead. Keys are
// `parentField.field` (checked first) or `field`.
export const UNKNOWN_FIELD_HINTS: Record<string, string> = {
  "trafficPolicy.circuitBreaker": "Istio has no circuitBreaker field; circuit breaking is trafficPolicy.connectionPool (connection and request limits) plus trafficPolicy.outlierDetection (ejecting failing hosts)",
  "http.consecutiveGatewayErrors": "belongs in trafficPolicy.outlierDetection, not connectionPool.http",
  "http.consecutive5xxErrors": "belongs in trafficPolicy.outlierDetection, not connectionPool.http",
  "http.consecutiveErrors": "belongs in trafficPolicy.outlierDetection, not connectionPool.http",
  "http.interval": "belongs in trafficPolicy.outlierDetection, not connectionPool.http",
  "http.baseEjectionTime": "belongs in trafficPolicy.outlierDetection, not connectionPool.http",
  "http.maxEjectionPercent": "belongs in trafficPolicy.outlierDetection, not connectionPool.http",
  "http.minHealthPercent": "belongs in trafficPolicy.outlierDetection, not connectionPool.http",
  "tcp.maxPendingRequests": "use connectionPool.http.http1MaxPendingRequests",
  "providers.service": "a provider reference has only a name; choose the workloads with spec.selector",
  "spec.extensionProviders": "extension providers are defined in the mesh-wide MeshConfig (meshConfig.extensionProviders), not in a Telemetry resource; reference one here by name in providers",
  "spec.host": "this kind takes a list: hosts: [...]",
  "route.timeout": "timeout belongs to the HTTP route (http[].timeout), not to a destination",
  "route.retries": "retries belong to the HTTP route (http[].retries), not to a destination",
  "outlierDetection.consecutiveError": "did you mean \"consecutive5xxErrors\"?",
};
