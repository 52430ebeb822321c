// The Istio-shaped resource kinds as zod schemas, with the TypeScript types inferred from them, so the parser and
// the types cannot drift. Field names, enums and nesting follow istio.io/api (networking v1, security v1,
// extensions v1alpha1, telemetry v1). Every object is strict: Istio's CRD schemas reject unknown fields, and an
// operator who writes `circuitBreaker:` must hear that Istio has no such field rather than have it ignored.
//
// Checks that concern one field (a duration, a port, a regex) live here as refinements, so they are reported in the
// same pass as structural errors. Rules that span fields of one object (oneofs, weights) are `superRefine`s on that
// object; rules that span resources live in validate.ts.
import { z } from "zod";
import { checkDuration, checkRegex, checkPort, checkHeaderName } from "./checks.ts";

// ---------------------------------------------------------------------------------------------------------------
// Shared building blocks

const strict = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict();

/**
 * An enum whose bad value is reported without aborting the enclosing object (z.enum's failure would), so the rules
 * of the resource still run and every error shows in one pass.
 */
function enumOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.custom<T[number]>((value) => typeof value === "string" && (values as readonly string[]).includes(value), (value: unknown) => ({
    message: `${JSON.stringify(value)} is not one of ${values.join(", ")}`,
    fatal: false,
  }));
}

/** A duration as Istio writes it ("2s", "500ms", "1m30s", "1.5s"), kept as written; see `durationMs`. */
export const Duration = z.string().superRefine((value, ctx) => {
  const problem = checkDuration(value);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

export const Regex = z.string().superRefine((value, ctx) => {
  const problem = checkRegex(value);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

export const PortNumber = z.number().int().superRefine((value, ctx) => {
  const problem = checkPort(value);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

const HeaderName = z.string().superRefine((value, ctx) => {
  const problem = checkHeaderName(value);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

const Int = z.number().int();
const NonNegativeInt = z.number().int().nonnegative();
const StringMap = z.record(z.string(), z.string());

/** google.protobuf.Struct: any JSON object. */
export const Struct = z.record(z.string(), z.unknown());

function oneOf(fields: readonly string[], required: boolean) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const set = fields.filter((field) => value[field] !== undefined);
    if (set.length > 1) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `only one of ${fields.join(", ")} may be set (found ${set.join(" and ")})` });
    } else if (required && set.length === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `one of ${fields.join(", ")} must be set` });
    }
  };
}

/** istio.networking/security StringMatch: exactly one of exact, prefix, regex. */
export const StringMatch = strict({ exact: z.string().optional(), prefix: z.string().optional(), regex: Regex.optional() })
  .superRefine(oneOf(["exact", "prefix", "regex"], true));
export type StringMatch = z.infer<typeof StringMatch>;

export const WorkloadSelector = strict({ matchLabels: StringMap.optional() });
export type WorkloadSelector = z.infer<typeof WorkloadSelector>;

export const PolicyTargetReference = strict({
  group: z.string().max(253).regex(/^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "group must be a DNS subdomain (e.g. gateway.networking.k8s.io) or empty").optional(),
  kind: z.string().min(1, "kind is required").max(63).regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, "kind must be a Kubernetes kind name (e.g. Service)"),
  name: z.string().min(1, "targetRef name must be set").max(253),
  namespace: z.string().max(0, "cross namespace referencing is not currently supported").optional(),
});

const WorkloadMode = enumOf(["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"]);

export const PortSelector = strict({ number: PortNumber.optional() });
export const Percent = strict({
  value: z.number().min(0, "percentage must be between 0 and 100").max(100, "percentage must be between 0 and 100"),
});
export type Percent = z.infer<typeof Percent>;

export const Metadata = strict({
  name: z.string({ required_error: "metadata.name is required" }),
  namespace: z.string().optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
  // Fields a `kubectl get -o yaml` export carries; accepted so such files load, not used.
  resourceVersion: z.string().optional(),
  generation: Int.optional(),
  uid: z.string().optional(),
  creationTimestamp: z.union([z.string(), z.null()]).optional(),
  generateName: z.string().optional(),
  selfLink: z.string().optional(),
  deletionTimestamp: z.unknown().optional(),
  deletionGracePeriodSeconds: z.unknown().optional(),
  ownerReferences: z.unknown().optional(),
  finalizers: z.unknown().optional(),
  managedFields: z.unknown().optional(),
});

// ---------------------------------------------------------------------------------------------------------------
// networking.istio.io: ServiceEntry, WorkloadEntry

export const WorkloadEntrySpec = strict({
  address: z.string().optional(),
  ports: z.record(z.string(), PortNumber).optional(),
  labels: StringMap.optional(),
  network: z.string().optional(),
  locality: z.string().optional(),
  weight: NonNegativeInt.optional(),
  serviceAccount: z.string().optional(),
});
export type WorkloadEntrySpec = z.infer<typeof WorkloadEntrySpec>;

export const ServicePort = strict({
  number: PortNumber,
  protocol: z.string().optional(),
  name: z.string(),
  targetPort: PortNumber.optional(),
});
export type ServicePort = z.infer<typeof ServicePort>;

export const ServiceEntrySpec = strict({
  hosts: z.array(z.string()),
  addresses: z.array(z.string()).optional(),
  ports: z.array(ServicePort).optional(),
  location: enumOf(["MESH_EXTERNAL", "MESH_INTERNAL"]).optional(),
  resolution: enumOf(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]).optional(),
  endpoints: z.array(WorkloadEntrySpec).optional(),
  workloadSelector: strict({ labels: StringMap.optional() }).optional(),
  exportTo: z.array(z.string()).optional(),
  subjectAltNames: z.array(z.string()).optional(),
});
export type ServiceEntrySpec = z.infer<typeof ServiceEntrySpec>;

// ---------------------------------------------------------------------------------------------------------------
// networking.istio.io: VirtualService

export const Destination = strict({
  host: z.string({ required_error: "destination.host is required" }),
  subset: z.string().optional(),
  port: PortSelector.optional(),
});
export type Destination = z.infer<typeof Destination>;

const HeaderOperations = strict({
  set: z.record(HeaderName, z.string()).optional(),
  add: z.record(HeaderName, z.string()).optional(),
  remove: z.array(HeaderName).optional(),
});
export const Headers = strict({ request: HeaderOperations.optional(), response: HeaderOperations.optional() });
export type Headers = z.infer<typeof Headers>;

export const HTTPMatchRequest = strict({
  name: z.string().optional(),
  uri: StringMatch.optional(),
  scheme: StringMatch.optional(),
  method: StringMatch.optional(),
  authority: StringMatch.optional(),
  headers: z.record(HeaderName, StringMatch).optional(),
  port: PortNumber.optional(),
  sourceLabels: StringMap.optional(),
  gateways: z.array(z.string()).optional(),
  queryParams: z.record(z.string(), StringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: z.record(HeaderName, StringMatch).optional(),
  sourceNamespace: z.string().optional(),
  statPrefix: z.string().optional(),
});
export type HTTPMatchRequest = z.infer<typeof HTTPMatchRequest>;

export const HTTPRouteDestination = strict({
  destination: Destination,
  weight: Int.optional(),
  headers: Headers.optional(),
});
export type HTTPRouteDestination = z.infer<typeof HTTPRouteDestination>;

export const HTTPRedirect = strict({
  uri: z.string().optional(),
  authority: z.string().optional(),
  port: PortNumber.optional(),
  derivePort: enumOf(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"]).optional(),
  scheme: z.string().optional(),
  redirectCode: Int.optional(),
  prefixRewrite: z.string().optional(),
}).superRefine(oneOf(["port", "derivePort"], false)).superRefine(oneOf(["uri", "prefixRewrite"], false));
export type HTTPRedirect = z.infer<typeof HTTPRedirect>;

export const HTTPRewrite = strict({
  uri: z.string().optional(),
  authority: z.string().optional(),
  uriRegexRewrite: strict({ match: Regex.optional(), rewrite: z.string().optional() }).optional(),
}).superRefine(oneOf(["uri", "uriRegexRewrite"], false));
export type HTTPRewrite = z.infer<typeof HTTPRewrite>;

export const HTTPDirectResponse = strict({
  status: Int,
  body: strict({ string: z.string().optional(), bytes: z.string().optional() })
    .superRefine(oneOf(["string", "bytes"], false)).optional(),
});
export type HTTPDirectResponse = z.infer<typeof HTTPDirectResponse>;

export const HTTPRetry = strict({
  attempts: Int.optional(),
  perTryTimeout: Duration.optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
  retryIgnorePreviousHosts: z.boolean().optional(),
  backoff: Duration.optional(),
});
export type HTTPRetry = z.infer<typeof HTTPRetry>;

export const HTTPFaultInjection = strict({
  delay: strict({
    fixedDelay: Duration.optional(),
    exponentialDelay: Duration.optional(),
    percentage: Percent.optional(),
    percent: Int.optional(),
  }).optional(),
  abort: strict({
    httpStatus: Int.optional(),
    grpcStatus: z.string().optional(),
    http2Error: z.string().optional(),
    percentage: Percent.optional(),
  }).superRefine(oneOf(["httpStatus", "grpcStatus", "http2Error"], true)).optional(),
});
export type HTTPFaultInjection = z.infer<typeof HTTPFaultInjection>;

export const HTTPMirrorPolicy = strict({ destination: Destination, percentage: Percent.optional() });

export const CorsPolicy = strict({
  allowOrigins: z.array(StringMatch).optional(),
  allowOrigin: z.array(z.string()).optional(),
  allowMethods: z.array(z.string()).optional(),
  allowHeaders: z.array(z.string()).optional(),
  exposeHeaders: z.array(z.string()).optional(),
  maxAge: Duration.optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: enumOf(["UNSPECIFIED", "FORWARD", "IGNORE"]).optional(),
});

export const HTTPRoute = strict({
  name: z.string().optional(),
  match: z.array(HTTPMatchRequest).optional(),
  route: z.array(HTTPRouteDestination).optional(),
  redirect: HTTPRedirect.optional(),
  directResponse: HTTPDirectResponse.optional(),
  delegate: strict({ name: z.string().optional(), namespace: z.string().optional() }).optional(),
  rewrite: HTTPRewrite.optional(),
  timeout: Duration.optional(),
  retries: HTTPRetry.optional(),
  fault: HTTPFaultInjection.optional(),
  mirror: Destination.optional(),
  mirrors: z.array(HTTPMirrorPolicy).optional(),
  mirrorPercentage: Percent.optional(),
  mirrorPercent: NonNegativeInt.optional(),
  /** The legacy spelling Istio's CRD still accepts. */
  mirror_percent: NonNegativeInt.optional(),
  corsPolicy: CorsPolicy.optional(),
  headers: Headers.optional(),
});
export type HTTPRoute = z.infer<typeof HTTPRoute>;

export const RouteDestination = strict({ destination: Destination, weight: Int.optional() });
export type RouteDestination = z.infer<typeof RouteDestination>;

export const TLSMatchAttributes = strict({
  sniHosts: z.array(z.string()),
  destinationSubnets: z.array(z.string()).optional(),
  port: PortNumber.optional(),
  sourceLabels: StringMap.optional(),
  gateways: z.array(z.string()).optional(),
  sourceNamespace: z.string().optional(),
});
export const TLSRoute = strict({ match: z.array(TLSMatchAttributes), route: z.array(RouteDestination).optional() });
export type TLSRoute = z.infer<typeof TLSRoute>;

export const L4MatchAttributes = strict({
  destinationSubnets: z.array(z.string()).optional(),
  port: PortNumber.optional(),
  sourceSubnet: z.string().optional(),
  sourceLabels: StringMap.optional(),
  gateways: z.array(z.string()).optional(),
  sourceNamespace: z.string().optional(),
});
export const TCPRoute = strict({ match: z.array(L4MatchAttributes).optional(), route: z.array(RouteDestination).optional() });
export type TCPRoute = z.infer<typeof TCPRoute>;

export const VirtualServiceSpec = strict({
  hosts: z.array(z.string()).optional(),
  gateways: z.array(z.string()).optional(),
  http: z.array(HTTPRoute).optional(),
  tls: z.array(TLSRoute).optional(),
  tcp: z.array(TCPRoute).optional(),
  exportTo: z.array(z.string()).optional(),
});
export type VirtualServiceSpec = z.infer<typeof VirtualServiceSpec>;

// ---------------------------------------------------------------------------------------------------------------
// networking.istio.io: DestinationRule

export const LoadBalancerSettings = strict({
  simple: enumOf(["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"]).optional(),
  consistentHash: strict({
    httpHeaderName: z.string().optional(),
    httpCookie: strict({
      name: z.string(),
      path: z.string().optional(),
      ttl: Duration.optional(),
      attributes: z.array(strict({ name: z.string(), value: z.string().optional() })).optional(),
    }).optional(),
    useSourceIp: z.boolean().optional(),
    httpQueryParameterName: z.string().optional(),
    ringHash: strict({ minimumRingSize: NonNegativeInt.optional() }).optional(),
    maglev: strict({ tableSize: NonNegativeInt.optional() }).optional(),
    minimumRingSize: NonNegativeInt.optional(),
  })
    .superRefine(oneOf(["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"], true))
    .superRefine(oneOf(["ringHash", "maglev", "minimumRingSize"], false))
    .optional(),
  localityLbSetting: strict({
    distribute: z.array(strict({ from: z.string(), to: z.record(z.string(), NonNegativeInt) })).optional(),
    failover: z.array(strict({ from: z.string(), to: z.string() })).optional(),
    failoverPriority: z.array(z.string()).optional(),
    enabled: z.boolean().optional(),
  }).optional(),
  zoneAwareLbSetting: strict({
    enabled: z.boolean().optional(),
    failover: z.array(strict({ from: z.string(), to: z.string() })).optional(),
    failoverPriority: z.array(z.string()).optional(),
    minClusterSize: NonNegativeInt.optional(),
  }).optional(),
  backendUtilization: strict({
    errorUtilizationPenaltyPercent: NonNegativeInt.optional(),
    metricNamesForComputingUtilization: z.array(z.string()).optional(),
    weightExpirationPeriod: Duration.optional(),
    weightStabilizationPeriod: Duration.optional(),
    weightUpdatePeriod: Duration.optional(),
  }).optional(),
  warmupDurationSecs: Duration.optional(),
  warmup: strict({
    duration: Duration,
    minimumPercent: z.number().min(0).max(100).optional(),
    aggression: z.number().min(1).optional(),
  }).optional(),
}).superRefine(oneOf(["simple", "consistentHash"], false));
export type LoadBalancerSettings = z.infer<typeof LoadBalancerSettings>;

export const ConnectionPoolSettings = strict({
  tcp: strict({
    maxConnections: Int.optional(),
    connectTimeout: Duration.optional(),
    tcpKeepalive: strict({ probes: NonNegativeInt.optional(), time: Duration.optional(), interval: Duration.optional() }).optional(),
    maxConnectionDuration: Duration.optional(),
    idleTimeout: Duration.optional(),
  }).optional(),
  http: strict({
    http1MaxPendingRequests: Int.optional(),
    http2MaxRequests: Int.optional(),
    maxRequestsPerConnection: Int.optional(),
    maxRetries: Int.optional(),
    idleTimeout: Duration.optional(),
    h2UpgradePolicy: enumOf(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]).optional(),
    useClientProtocol: z.boolean().optional(),
    maxConcurrentStreams: Int.optional(),
    http2KeepAlive: strict({ interval: Duration.optional(), timeout: Duration.optional() }).optional(),
  }).optional(),
});
export type ConnectionPoolSettings = z.infer<typeof ConnectionPoolSettings>;

export const OutlierDetection = strict({
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: Int.optional(),
  consecutiveGatewayErrors: Int.optional(),
  consecutive5xxErrors: Int.optional(),
  /** Deprecated in Istio (replaced by consecutive5xxErrors) but still accepted. */
  consecutiveErrors: Int.optional(),
  interval: Duration.optional(),
  baseEjectionTime: Duration.optional(),
  maxEjectionPercent: Int.optional(),
  minHealthPercent: Int.optional(),
  outlierDetectionHttpErrorCodes: z.array(Int).optional(),
});
export type OutlierDetection = z.infer<typeof OutlierDetection>;

export const ClientTLSSettings = strict({
  mode: enumOf(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]).optional(),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: z.array(z.string()).optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
  caCrl: z.string().optional(),
});
export type ClientTLSSettings = z.infer<typeof ClientTLSSettings>;

export const PortTrafficPolicy = strict({
  port: PortSelector.optional(),
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
});
export type PortTrafficPolicy = z.infer<typeof PortTrafficPolicy>;

export const TrafficPolicy = strict({
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
  portLevelSettings: z.array(PortTrafficPolicy).optional(),
  tunnel: strict({ protocol: z.string().optional(), targetHost: z.string(), targetPort: PortNumber }).optional(),
  proxyProtocol: strict({ version: enumOf(["V1", "V2"]).optional() }).optional(),
  retryBudget: strict({
    percent: z.number().min(0).max(100).optional(),
    minRetryConcurrency: NonNegativeInt.optional(),
    budgetInterval: Duration.optional(),
  }).optional(),
});
export type TrafficPolicy = z.infer<typeof TrafficPolicy>;

export const Subset = strict({
  name: z.string(),
  labels: StringMap.optional(),
  trafficPolicy: TrafficPolicy.optional(),
});
export type Subset = z.infer<typeof Subset>;

export const DestinationRuleSpec = strict({
  host: z.string({ required_error: "host is required" }),
  trafficPolicy: TrafficPolicy.optional(),
  subsets: z.array(Subset).optional(),
  exportTo: z.array(z.string()).optional(),
  workloadSelector: WorkloadSelector.optional(),
});
export type DestinationRuleSpec = z.infer<typeof DestinationRuleSpec>;

// ---------------------------------------------------------------------------------------------------------------
// networking.istio.io: Gateway

export const ServerTLSSettings = strict({
  httpsRedirect: z.boolean().optional(),
  mode: enumOf(["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"]).optional(),
  serverCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  caCrl: z.string().optional(),
  credentialName: z.string().optional(),
  credentialNames: z.array(z.string()).optional(),
  caCertCredentialName: z.string().optional(),
  tlsCertificates: z.array(strict({
    serverCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
  })).optional(),
  insecureSkipVerify: z.boolean().optional(),
  subjectAltNames: z.array(z.string()).optional(),
  verifyCertificateSpki: z.array(z.string()).optional(),
  verifyCertificateHash: z.array(z.string()).optional(),
  minProtocolVersion: enumOf(["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]).optional(),
  maxProtocolVersion: enumOf(["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]).optional(),
  cipherSuites: z.array(z.string()).optional(),
  ecdhCurves: z.array(z.string()).optional(),
});
export type ServerTLSSettings = z.infer<typeof ServerTLSSettings>;

export const GatewayServer = strict({
  port: strict({ number: PortNumber, protocol: z.string(), name: z.string(), targetPort: PortNumber.optional() }),
  bind: z.string().optional(),
  hosts: z.array(z.string()),
  tls: ServerTLSSettings.optional(),
  defaultEndpoint: z.string().optional(),
  name: z.string().optional(),
});
export type GatewayServer = z.infer<typeof GatewayServer>;

export const GatewaySpec = strict({
  selector: StringMap.optional(),
  servers: z.array(GatewayServer),
});
export type GatewaySpec = z.infer<typeof GatewaySpec>;

// ---------------------------------------------------------------------------------------------------------------
// security.istio.io: RequestAuthentication, PeerAuthentication, AuthorizationPolicy

export const JWTRule = strict({
  issuer: z.string().optional(),
  audiences: z.array(z.string()).optional(),
  jwksUri: z.string().optional(),
  /** The legacy spelling Istio's CRD still accepts. */
  jwks_uri: z.string().optional(),
  jwks: z.string().optional(),
  fromHeaders: z.array(strict({ name: z.string(), prefix: z.string().optional() })).optional(),
  fromParams: z.array(z.string()).optional(),
  fromCookies: z.array(z.string()).optional(),
  outputPayloadToHeader: z.string().optional(),
  forwardOriginalToken: z.boolean().optional(),
  outputClaimToHeaders: z.array(strict({ header: HeaderName, claim: z.string() })).optional(),
  timeout: Duration.optional(),
  spaceDelimitedClaims: z.array(z.string().min(1, "claim names must not be empty")).optional(),
  presence: enumOf(["OPTIONAL", "REQUIRED"]).optional(),
});
export type JWTRule = z.infer<typeof JWTRule>;

export const RequestAuthenticationSpec = strict({
  selector: WorkloadSelector.optional(),
  targetRef: PolicyTargetReference.optional(),
  targetRefs: z.array(PolicyTargetReference).optional(),
  jwtRules: z.array(JWTRule).optional(),
});
export type RequestAuthenticationSpec = z.infer<typeof RequestAuthenticationSpec>;

const MtlsMode = enumOf(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]);
export const PeerAuthenticationSpec = strict({
  selector: WorkloadSelector.optional(),
  mtls: strict({ mode: MtlsMode.optional() }).optional(),
  portLevelMtls: z.record(z.string().regex(/^[0-9]+$/, "portLevelMtls keys are port numbers"), strict({ mode: MtlsMode.optional() })).optional(),
});
export type PeerAuthenticationSpec = z.infer<typeof PeerAuthenticationSpec>;

const StringList = z.array(z.string()).optional();
export const AuthorizationSource = strict({
  principals: StringList, notPrincipals: StringList,
  requestPrincipals: StringList, notRequestPrincipals: StringList,
  namespaces: StringList, notNamespaces: StringList,
  ipBlocks: StringList, notIpBlocks: StringList,
  remoteIpBlocks: StringList, notRemoteIpBlocks: StringList,
  serviceAccounts: StringList, notServiceAccounts: StringList,
  trustDomains: StringList, notTrustDomains: StringList,
});
export const AuthorizationOperation = strict({
  hosts: StringList, notHosts: StringList,
  ports: StringList, notPorts: StringList,
  methods: StringList, notMethods: StringList,
  paths: StringList, notPaths: StringList,
});
export const AuthorizationCondition = strict({ key: z.string(), values: StringList, notValues: StringList });
export const AuthorizationRule = strict({
  from: z.array(strict({ source: AuthorizationSource })).optional(),
  to: z.array(strict({ operation: AuthorizationOperation })).optional(),
  when: z.array(AuthorizationCondition).optional(),
});
export type AuthorizationRule = z.infer<typeof AuthorizationRule>;

export const AuthorizationPolicySpec = strict({
  selector: WorkloadSelector.optional(),
  targetRef: PolicyTargetReference.optional(),
  targetRefs: z.array(PolicyTargetReference).optional(),
  rules: z.array(AuthorizationRule).optional(),
  action: enumOf(["ALLOW", "DENY", "AUDIT", "CUSTOM"]).optional(),
  provider: strict({ name: z.string() }).optional(),
});
export type AuthorizationPolicySpec = z.infer<typeof AuthorizationPolicySpec>;

// ---------------------------------------------------------------------------------------------------------------
// extensions.istio.io: WasmPlugin

export const WasmPluginSpec = strict({
  selector: WorkloadSelector.optional(),
  targetRef: PolicyTargetReference.optional(),
  targetRefs: z.array(PolicyTargetReference).optional(),
  url: z.string(),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, "sha256 must be 64 lowercase hex digits").optional(),
  imagePullPolicy: enumOf(["UNSPECIFIED_POLICY", "IfNotPresent", "Always"]).optional(),
  imagePullSecret: z.string().optional(),
  pluginConfig: Struct.optional(),
  pluginName: z.string().optional(),
  phase: enumOf(["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]).optional(),
  priority: Int.optional(),
  failStrategy: enumOf(["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]).optional(),
  vmConfig: strict({
    env: z.array(strict({ name: z.string(), value: z.string().optional(), valueFrom: enumOf(["INLINE", "HOST"]).optional() })).optional(),
  }).optional(),
  match: z.array(strict({
    mode: WorkloadMode.optional(),
    ports: z.array(PortSelector).optional(),
  })).optional(),
  verificationKey: z.string().optional(),
  type: enumOf(["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"]).optional(),
});
export type WasmPluginSpec = z.infer<typeof WasmPluginSpec>;

// ---------------------------------------------------------------------------------------------------------------
// telemetry.istio.io: Telemetry (accepted and validated; not translated yet)

const ProviderRef = strict({ name: z.string() });
export const TelemetrySpec = strict({
  selector: WorkloadSelector.optional(),
  targetRef: PolicyTargetReference.optional(),
  targetRefs: z.array(PolicyTargetReference).optional(),
  tracing: z.array(strict({
    match: strict({ mode: WorkloadMode.optional() }).optional(),
    providers: z.array(ProviderRef).optional(),
    randomSamplingPercentage: z.number().min(0).max(100).optional(),
    disableSpanReporting: z.boolean().optional(),
    customTags: z.record(z.string(), strict({
      literal: strict({ value: z.string() }).optional(),
      environment: strict({ name: z.string(), defaultValue: z.string().optional() }).optional(),
      header: strict({ name: z.string(), defaultValue: z.string().optional() }).optional(),
      formatter: strict({ value: z.string() }).optional(),
    }).superRefine(oneOf(["literal", "environment", "header", "formatter"], true))).optional(),
    useRequestIdForTraceSampling: z.boolean().optional(),
    enableIstioTags: z.boolean().optional(),
    disableContextPropagation: z.boolean().optional(),
  })).optional(),
  metrics: z.array(strict({
    providers: z.array(ProviderRef).optional(),
    overrides: z.array(strict({
      match: strict({
        metric: z.string().optional(),
        customMetric: z.string().min(1, "customMetric may not be empty").optional(),
        mode: WorkloadMode.optional(),
      }).superRefine(oneOf(["metric", "customMetric"], false)).optional(),
      disabled: z.boolean().optional(),
      tagOverrides: z.record(z.string(), strict({ operation: enumOf(["UPSERT", "REMOVE"]).optional(), value: z.string().optional() })).optional(),
    })).optional(),
    reportingInterval: Duration.optional(),
  })).optional(),
  accessLogging: z.array(strict({
    match: strict({ mode: WorkloadMode.optional() }).optional(),
    providers: z.array(ProviderRef).optional(),
    disabled: z.boolean().optional(),
    filter: strict({ expression: z.string().optional() }).optional(),
  })).optional(),
});
export type TelemetrySpec = z.infer<typeof TelemetrySpec>;

// ---------------------------------------------------------------------------------------------------------------
// Kinds

/** Per kind: the API groups/versions Istio serves it under, and its spec schema. */
export const KINDS = {
  ServiceEntry: { versions: ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"], spec: ServiceEntrySpec },
  WorkloadEntry: { versions: ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"], spec: WorkloadEntrySpec },
  VirtualService: { versions: ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"], spec: VirtualServiceSpec },
  DestinationRule: { versions: ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"], spec: DestinationRuleSpec },
  Gateway: { versions: ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"], spec: GatewaySpec },
  RequestAuthentication: { versions: ["security.istio.io/v1", "security.istio.io/v1beta1"], spec: RequestAuthenticationSpec },
  PeerAuthentication: { versions: ["security.istio.io/v1", "security.istio.io/v1beta1"], spec: PeerAuthenticationSpec },
  AuthorizationPolicy: { versions: ["security.istio.io/v1", "security.istio.io/v1beta1"], spec: AuthorizationPolicySpec },
  WasmPlugin: { versions: ["extensions.istio.io/v1alpha1"], spec: WasmPluginSpec },
  Telemetry: { versions: ["telemetry.istio.io/v1", "telemetry.istio.io/v1alpha1"], spec: TelemetrySpec },
} as const;

export type Kind = keyof typeof KINDS;
export const KIND_NAMES = Object.keys(KINDS) as Kind[];

export type SpecOf<K extends Kind> = z.infer<(typeof KINDS)[K]["spec"]>;

export interface ResourceMeta {
  name: string;
  /** Always set after validation: the document's namespace or the default one. */
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** One validated, defaulted resource. `source` says where it was read ("mesh/ride.yaml:12", "etcd:/key"). */
export interface Resource<K extends Kind = Kind> {
  kind: K;
  apiVersion: string;
  metadata: ResourceMeta;
  spec: SpecOf<K>;
  source: string;
}

export type AnyResource = { [K in Kind]: Resource<K> }[Kind];

export type ServiceEntry = Resource<"ServiceEntry">;
export type WorkloadEntry = Resource<"WorkloadEntry">;
export type VirtualService = Resource<"VirtualService">;
export type DestinationRule = Resource<"DestinationRule">;
export type Gateway = Resource<"Gateway">;
export type RequestAuthentication = Resource<"RequestAuthentication">;
export type PeerAuthentication = Resource<"PeerAuthentication">;
export type AuthorizationPolicy = Resource<"AuthorizationPolicy">;
export type WasmPlugin = Resource<"WasmPlugin">;
export type Telemetry = Resource<"Telemetry">;
