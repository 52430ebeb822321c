// Listeners and route tables for the three places a proxy takes traffic:
//   - outbound (sidecar): the application calls its sidecar on loopback, one listener per service port
//     (`127.0.0.1_<port>`, RDS route table `<port>`, one virtual host per service). This mesh captures no
//     traffic (no iptables), so this is Istio's Sidecar-resource shape for captureMode NONE: an egress listener
//     bound to loopback per port; the Host header picks the service. A TCP port gets a TCP proxy to its one
//     service (no Host header, no captured destination address to tell services apart).
//   - inbound (sidecar): a listener on the workload's address per service port, forwarding to the application on
//     127.0.0.1 through `inbound|<port>||<host>`; this is where peers (their outbound clusters) connect.
//   - gateway (router): one listener per Gateway server port, virtual hosts from the VirtualServices bound to it,
//     and SIMPLE TLS with the certificate named by `credentialName`, delivered by SDS.
import {
  adsConfigSource, filterChain, httpConnectionManager, listener, routeConfiguration, staticCluster, tcpProxy, virtualHost,
  type DownstreamTlsContextJson, type FilterChainJson, type ListenerJson, type RouteConfigurationJson, type RouteJson, type VirtualHostJson,
} from "../../envoy/builders/index.ts";
import {
  hostMatches, type MeshConfig, type MeshService, type ServicePort, type Gateway, type GatewayServer, type VirtualService,
} from "../config/index.ts";
import { hashPolicy, inboundClusterName, outboundClusterName, visibleServices, visibleTo } from "./clusters.ts";
import { httpFilters } from "./filters.ts";
import { inboundChainsFor, inboundHttpFilters, inboundMode, type InboundChains } from "./mtls.ts";
import { defaultRoute, virtualServiceRoutes } from "./routes.ts";
import type { EnvoyResources, ProxyInfo, TranslateContext, TranslateIssue } from "./types.ts";

/** Ports whose traffic is HTTP (unset counts as HTTP: this mesh only routes HTTP so far). */
export function isHttpPort(protocol: string | undefined): boolean {
  const value = (protocol ?? "HTTP").toUpperCase();
  return value === "HTTP" || value === "HTTP2" || value === "GRPC" || value === "GRPC-WEB";
}

function listenPort(proxy: ProxyInfo, port: number): number {
  return proxy.listenPorts[String(port)] ?? proxy.listenPorts["*"] ?? port;
}

/**
 * Istio's domains for a service seen from a namespace: the host, and for `<name>.<ns>.svc.<suffix>` hosts the
 * shorter names that resolve to it there (`name` only within `ns`), each with and without the port.
 */
export function serviceDomains(host: string, port: number, fromNamespace: string, domainSuffix: string): string[] {
  const names = [host];
  const suffix = `.svc.${domainSuffix}`;
  if (host.endsWith(suffix)) {
    const [name, namespace] = host.slice(0, -suffix.length).split(".");
    if (name && namespace && !host.slice(0, -suffix.length).includes(".", name.length + 1)) {
      names.push(`${name}.${namespace}.svc`, `${name}.${namespace}`);
      if (namespace === fromNamespace) names.push(name);
    }
  }
  return names.flatMap((name) => name === "*" ? [name] : [name, `${name}:${port}`]);
}

/** Adds virtual hosts, dropping domains an earlier one already claimed (Envoy refuses duplicates). */
function addVirtualHost(hosts: VirtualHostJson[], claimed: Set<string>, name: string, domains: string[], routes: RouteJson[]): void {
  const free = domains.filter((domain) => !claimed.has(domain));
  if (free.length === 0) return;
  free.forEach((domain) => claimed.add(domain));
  hosts.push(virtualHost(name, free, routes));
}

/** The visible service ports by number, split into HTTP ports and the others (served by a TCP proxy). */
function portsOf(mesh: MeshConfig, namespace: string): { http: Map<number, MeshService[]>; tcp: Map<number, MeshService[]> } {
  const http = new Map<number, MeshService[]>();
  const tcp = new Map<number, MeshService[]>();
  for (const service of visibleServices(mesh, namespace)) {
    for (const port of service.ports) {
      const byPort = isHttpPort(port.protocol) ? http : tcp;
      byPort.set(port.number, [...(byPort.get(port.number) ?? []), service]);
    }
  }
  const sorted = (byPort: Map<number, MeshService[]>) =>
    new Map([...byPort].sort(([a], [b]) => a - b).map(([port, services]) => [port, services.sort((a, b) => a.host.localeCompare(b.host))]));
  return { http: sorted(http), tcp: sorted(tcp) };
}

/** The sidecar VirtualServices a proxy in `namespace` sees (exportTo). */
function meshVirtualServices(mesh: MeshConfig, namespace: string): readonly VirtualService[] {
  return mesh.virtualServicesFor("mesh").filter((vs) => visibleTo(vs.spec.exportTo, vs.metadata.namespace, namespace));
}

/**
 * The sidecar VirtualService of each service host: one naming the host exactly wins over one whose wildcard host
 * covers it (Istio's precedence); the first in the mesh's order wins among equals.
 */
function meshVirtualServiceIndex(mesh: MeshConfig, namespace: string): (host: string) => VirtualService | undefined {
  const exact = new Map<string, VirtualService>();
  const wildcards: Array<{ pattern: string; vs: VirtualService }> = [];
  for (const vs of meshVirtualServices(mesh, namespace)) {
    for (const host of vs.spec.hosts ?? []) {
      const resolved = mesh.resolveHost(host, vs.metadata.namespace);
      if (resolved.startsWith("*")) wildcards.push({ pattern: resolved, vs });
      else if (!exact.has(resolved)) exact.set(resolved, vs);
    }
  }
  return (host) => exact.get(host) ?? wildcards.find(({ pattern }) => hostMatches(pattern, host))?.vs;
}

interface OutboundRoutes {
  routes: Map<number, RouteConfigurationJson>;
  warnings: TranslateIssue[];
}

/** The label keys that some VirtualService's `sourceLabels` names, once per mesh. */
const sourceLabelKeysByMesh = new WeakMap<MeshConfig, ReadonlySet<string>>();

/**
 * The proxy's labels that outbound routes can depend on: those a `sourceLabels` match names. Most meshes use none,
 * and then every sidecar of a namespace shares one set of route tables.
 */
export function routeRelevantLabels(mesh: MeshConfig, proxy: ProxyInfo): Array<[string, string]> {
  let keys = sourceLabelKeysByMesh.get(mesh);
  if (!keys) {
    const found = new Set<string>();
    for (const vs of mesh.list("VirtualService")) {
      for (const http of vs.spec.http ?? []) {
        for (const match of http.match ?? []) Object.keys(match.sourceLabels ?? {}).forEach((key) => found.add(key));
      }
    }
    sourceLabelKeysByMesh.set(mesh, keys = found);
  }
  return Object.entries(proxy.labels).filter(([key]) => keys.has(key)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Outbound route tables depend on the mesh, the proxy's namespace (short names, DestinationRules) and the labels
 * sourceLabels matches read, nothing else; proxies that share those share the tables (computed once per mesh).
 */
const outboundRouteCache = new WeakMap<MeshConfig, Map<string, OutboundRoutes>>();

function outboundRoutes(mesh: MeshConfig, proxy: ProxyInfo): OutboundRoutes {
  const key = JSON.stringify([proxy.namespace, routeRelevantLabels(mesh, proxy)]);
  let cache = outboundRouteCache.get(mesh);
  if (!cache) outboundRouteCache.set(mesh, cache = new Map());
  const cached = cache.get(key);
  if (cached) return cached;
  const result: OutboundRoutes = { routes: new Map(), warnings: [] };
  const virtualServiceOf = meshVirtualServiceIndex(mesh, proxy.namespace);
  const hostsWithoutService = meshVirtualServices(mesh, proxy.namespace).flatMap((vs) => (vs.spec.hosts ?? [])
    .map((host) => ({ host: mesh.resolveHost(host, vs.metadata.namespace), vs }))
    .filter(({ host }) => !host.startsWith("*") && !mesh.serviceByHost(host, vs.metadata.namespace)));
  for (const [portNumber, services] of portsOf(mesh, proxy.namespace).http) {
    const virtualHosts: VirtualHostJson[] = [];
    const claimed = new Set<string>();
    const scope = { mesh, proxy, gateway: "mesh", port: portNumber, warnings: result.warnings };
    for (const service of services) {
      const bound = virtualServiceOf(service.host);
      const routes = bound ? virtualServiceRoutes(bound, scope)
        : [defaultRoute(outboundClusterName(portNumber, undefined, service.host), hashPolicy(mesh, service.host, undefined, portNumber, proxy.namespace))];
      addVirtualHost(virtualHosts, claimed, `${service.host}:${portNumber}`, serviceDomains(service.host, portNumber, proxy.namespace, mesh.options.domainSuffix), routes);
    }
    // As Istio does, VirtualService hosts that are no service (an external name the VirtualService routes
    // somewhere) get a virtual host on every outbound port.
    for (const { host, vs } of hostsWithoutService) {
      const routes = virtualServiceRoutes(vs, scope);
      if (routes.length > 0) addVirtualHost(virtualHosts, claimed, `${host}:${portNumber}`, host === "*" ? ["*"] : [host, `${host}:${portNumber}`], routes);
    }
    result.routes.set(portNumber, routeConfiguration(String(portNumber), virtualHosts, { validateClusters: false }));
  }
  if (cache.size >= 1024) cache.delete(cache.keys().next().value!);
  cache.set(key, result);
  return result;
}

export function outboundListeners(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext, resources: EnvoyResources): void {
  const { routes, warnings } = outboundRoutes(mesh, proxy);
  resources.warnings.push(...warnings);
  // A TCP port carries no Host header, and without traffic capture there is no original destination address either:
  // its loopback listener can lead to one service only.
  for (const [portNumber, services] of portsOf(mesh, proxy.namespace).tcp) {
    const serviceName = (service: MeshService) => `ServiceEntry/${service.namespace}/${service.serviceEntry.metadata.name}`;
    if (routes.has(portNumber)) {
      for (const service of services) {
        resources.warnings.push({ path: serviceName(service), message: `TCP port ${portNumber} is also an HTTP port of another service; only its cluster is sent` });
      }
      continue;
    }
    const [chosen, ...others] = services;
    for (const service of others) {
      resources.warnings.push({ path: serviceName(service), message: `TCP port ${portNumber} is already served by ${chosen!.host}; only this service's cluster is sent` });
    }
    const name = `${proxy.listenAddress}_${portNumber}`;
    const cluster = outboundClusterName(portNumber, undefined, chosen!.host);
    resources.listeners.set(name, {
      ...listener({ name, address: proxy.listenAddress, port: listenPort(proxy, portNumber), filterChains: [filterChain({ filters: [tcpProxy(`outbound_${portNumber}`, cluster)] })] }),
      trafficDirection: "OUTBOUND",
    });
  }
  for (const [portNumber, routeConfig] of routes) {
    const routeName = routeConfig.name!;
    resources.routes.set(routeName, routeConfig);
    const name = `${proxy.listenAddress}_${portNumber}`;
    const filters = httpFilters(mesh, proxy, context, "outbound", portNumber, resources);
    resources.listeners.set(name, {
      ...listener({
        name, address: proxy.listenAddress, port: listenPort(proxy, portNumber),
        filterChains: [filterChain({ filters: [httpConnectionManager({ normalizePath: true, statPrefix: `outbound_${portNumber}`, httpFilters: filters, routes: { rds: routeName } })] })],
      }),
      trafficDirection: "OUTBOUND",
    });
  }
}

/** Whether every label of `labels` is on the proxy. */
function carries(proxy: ProxyInfo, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([key, value]) => proxy.labels[key] === value);
}

/**
 * Services whose endpoints include this sidecar: selected by a workloadSelector in its namespace, or listing its
 * address with labels the proxy carries. The address alone is not enough: on a loopback mesh every workload is
 * 127.0.0.1.
 */
export function servedServices(mesh: MeshConfig, proxy: ProxyInfo): MeshService[] {
  return mesh.services().filter((service) =>
    (service.namespace === proxy.namespace && service.workloadSelector !== undefined && carries(proxy, service.workloadSelector)) ||
    service.endpoints.some((endpoint) => endpoint.address === proxy.ip && carries(proxy, endpoint.labels)));
}

export function inboundListeners(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext, resources: EnvoyResources): void {
  const byInboundPort = new Map<number, Array<{ service: MeshService; port: ServicePort }>>();
  for (const service of servedServices(mesh, proxy)) {
    for (const port of service.ports) {
      const endpoint = service.endpoints.find((candidate) => candidate.address === proxy.ip && carries(proxy, candidate.labels));
      const inboundPort = proxy.inboundPorts[port.name] ?? endpoint?.ports[port.name] ?? port.targetPort ?? port.number;
      byInboundPort.set(inboundPort, [...(byInboundPort.get(inboundPort) ?? []), { service, port }]);
    }
  }
  for (const [inboundPort, entries] of [...byInboundPort].sort(([a], [b]) => a - b)) {
    const first = entries.sort((a, b) => a.service.host.localeCompare(b.service.host))[0]!;
    const appPort = proxy.appPorts[first.port.name] ?? inboundPort;
    if (appPort === inboundPort && (proxy.ip === "127.0.0.1" || proxy.ip === "0.0.0.0")) {
      resources.warnings.push({
        path: `node.metadata.APP_PORTS.${first.port.name}`,
        message: `inbound port ${inboundPort} and the application's port are the same on ${proxy.ip}; set APP_PORTS.${first.port.name} in the node metadata`,
      });
    }
    const clusterName = inboundClusterName(inboundPort, first.service.host);
    resources.clusters.set(clusterName, staticCluster(clusterName, "127.0.0.1", appPort, { timeoutSeconds: 10 }));
    const name = `${proxy.ip}_${inboundPort}`;
    const mtlsPorts = [inboundPort, first.port.targetPort ?? first.port.number];
    if (!isHttpPort(first.port.protocol)) {
      const tcp = tcpProxy(`inbound_${inboundPort}`, clusterName);
      const chains = context.inboundTls ? { filterChains: [filterChain({ filters: [tcp], tls: context.inboundTls })] }
        : inboundChainsFor(inboundMode(mesh, proxy, mtlsPorts, resources.warnings), () => [tcp]);
      resources.listeners.set(name, inboundListener(name, proxy.ip, inboundPort, chains));
      continue;
    }
    const routeName = `inbound|${inboundPort}||`;
    const routeConfig = routeConfiguration(routeName, [virtualHost(`inbound|http|${inboundPort}`, ["*"], [
      { name: "default", match: { prefix: "/" }, route: { cluster: clusterName, timeout: "0s" } },
    ])]);
    const filters = httpFilters(mesh, proxy, context, "inbound", inboundPort, resources);
    const hcm = httpConnectionManager({ normalizePath: true, statPrefix: `inbound_${inboundPort}`, httpFilters: filters, routes: { routeConfig }, trustDownstream: true });
    const chains = context.inboundTls ? { filterChains: [inboundFilterChain(hcm, context.inboundTls)] }
      : inboundChainsFor(inboundMode(mesh, proxy, mtlsPorts, resources.warnings), inboundHttpFilters(hcm));
    resources.listeners.set(name, inboundListener(name, proxy.ip, inboundPort, chains));
  }
}

/** An inbound listener with the chains its PeerAuthentication mode asks for (mtls.ts). */
function inboundListener(name: string, address: string, port: number, chains: InboundChains): ListenerJson {
  const result: ListenerJson = { ...listener({ name, address, port, filterChains: chains.filterChains }), trafficDirection: "INBOUND" };
  if (chains.listenerFilters) result.listenerFilters = chains.listenerFilters;
  return result;
}

/** A single inbound chain with a fixed TLS context (`context.inboundTls`, which overrides PeerAuthentication). */
export function inboundFilterChain(hcm: ReturnType<typeof httpConnectionManager>, tls: DownstreamTlsContextJson | undefined): FilterChainJson {
  return filterChain({ filters: [hcm], tls });
}

// A server's hosts without their namespace part: "ns/host", "*/host" and "./host" all give "host".
function serverHosts(server: GatewayServer): string[] {
  return server.hosts.map((host) => host.includes("/") ? host.slice(host.indexOf("/") + 1) : host);
}

/**
 * Whether a server exposes a VirtualService host: the host patterns match (either way round, for wildcards) and
 * the namespace part admits the VirtualService's namespace ("ns/", "./" for the gateway's own, "*\/" or none for any).
 */
function serverExposes(server: GatewayServer, gatewayNamespace: string, vsNamespace: string, host: string): boolean {
  return server.hosts.some((entry) => {
    const slash = entry.indexOf("/");
    const namespace = slash < 0 ? "*" : entry.slice(0, slash);
    const pattern = slash < 0 ? entry : entry.slice(slash + 1);
    const namespaceOk = namespace === "*" || (namespace === "." ? vsNamespace === gatewayNamespace : vsNamespace === namespace);
    return namespaceOk && (hostMatches(pattern, host) || hostMatches(host, pattern));
  });
}

function gatewayVirtualHosts(
  mesh: MeshConfig, proxy: ProxyInfo, entries: Array<{ gateway: Gateway; server: GatewayServer }>, port: number, resources: EnvoyResources,
): VirtualHostJson[] {
  const routesByHost = new Map<string, RouteJson[]>();
  for (const gateway of new Set(entries.map((entry) => entry.gateway))) {
    const servers = entries.filter((entry) => entry.gateway === gateway).map((entry) => entry.server);
    const gatewayName = `${gateway.metadata.namespace}/${gateway.metadata.name}`;
    for (const vs of mesh.virtualServicesFor(gatewayName).filter((candidate) => visibleTo(candidate.spec.exportTo, candidate.metadata.namespace, gateway.metadata.namespace))) {
      const scope = { mesh, proxy, gateway: gatewayName, port, warnings: resources.warnings };
      const routes = virtualServiceRoutes(vs, scope);
      if (routes.length === 0) continue;
      for (const host of vs.spec.hosts ?? []) {
        if (!servers.some((server) => serverExposes(server, gateway.metadata.namespace, vs.metadata.namespace, host))) continue;
        // Istio merges the routes of every VirtualService bound to a gateway host, in order.
        routesByHost.set(host, [...(routesByHost.get(host) ?? []), ...routes]);
      }
    }
  }
  const servers = entries.map((entry) => entry.server);
  const virtualHosts: VirtualHostJson[] = [];
  const claimed = new Set<string>();
  const redirect = servers.some((server) => server.tls?.httpsRedirect);
  for (const [host, routes] of [...routesByHost].sort(([a], [b]) => a.localeCompare(b))) {
    addVirtualHost(virtualHosts, claimed, `${host}:${port}`, host === "*" ? ["*"] : [host, `${host}:${port}`], routes);
  }
  if (redirect) for (const virtualHostEntry of virtualHosts) virtualHostEntry.requireTls = "ALL";
  return virtualHosts;
}

export function gatewayListeners(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext, resources: EnvoyResources): void {
  const gateways = mesh.gatewaysFor(proxy);
  const byPort = new Map<number, Array<{ gateway: Gateway; server: GatewayServer; index: number }>>();
  for (const gateway of gateways) {
    gateway.spec.servers.forEach((server, index) => {
      byPort.set(server.port.number, [...(byPort.get(server.port.number) ?? []), { gateway, server, index }]);
    });
  }
  for (const [portNumber, entries] of [...byPort].sort(([a], [b]) => a - b)) {
    const chains: FilterChainJson[] = [];
    const filters = httpFilters(mesh, proxy, context, "gateway", portNumber, resources);
    const plain = entries.filter(({ server }) => server.port.protocol.toUpperCase() === "HTTP");
    if (plain.length > 0) {
      const routeName = `http.${portNumber}`;
      resources.routes.set(routeName, routeConfiguration(routeName,
        gatewayVirtualHosts(mesh, proxy, plain, portNumber, resources), { validateClusters: false }));
      chains.push(filterChain({ filters: [httpConnectionManager({ normalizePath: true, statPrefix: `gateway_${portNumber}`, httpFilters: filters, routes: { rds: routeName }, trustDownstream: false })] }));
    }
    for (const { gateway, server, index } of entries) {
      const protocol = server.port.protocol.toUpperCase();
      const path = `Gateway/${gateway.metadata.namespace}/${gateway.metadata.name}.servers[${index}]`;
      if (protocol === "HTTP") continue;
      if (protocol !== "HTTPS" || server.tls?.mode !== "SIMPLE" || !server.tls.credentialName) {
        resources.warnings.push({ path, message: `only HTTP, and HTTPS with tls.mode SIMPLE and a credentialName, are translated (got ${protocol}${server.tls?.mode ? ` ${server.tls.mode}` : ""}); this server is left out` });
        continue;
      }
      const credential = server.tls.credentialName;
      const material = context.credentials?.[credential];
      if (material) {
        resources.secrets.set(credential, {
          name: credential,
          tlsCertificate: { certificateChain: { inlineString: material.certificateChain }, privateKey: { inlineString: material.privateKey } },
        });
      } else {
        resources.warnings.push({ path: `${path}.tls.credentialName`, message: `no credential ${JSON.stringify(credential)} is loaded; TLS handshakes on port ${portNumber} fail until it is` });
      }
      const routeName = `https.${portNumber}.${server.port.name}.${gateway.metadata.name}.${gateway.metadata.namespace}`;
      resources.routes.set(routeName, routeConfiguration(routeName,
        gatewayVirtualHosts(mesh, proxy, [{ gateway, server }], portNumber, resources), { validateClusters: false }));
      const tls: DownstreamTlsContextJson = {
        commonTlsContext: {
          tlsCertificateSdsSecretConfigs: [{ name: credential, sdsConfig: adsConfigSource() }],
          alpnProtocols: ["h2", "http/1.1"],
        },
      };
      if (server.tls.minProtocolVersion && server.tls.minProtocolVersion !== "TLS_AUTO") {
        // Istio spells the versions TLSV1_2, Envoy TLSv1_2.
        tls.commonTlsContext!.tlsParams = { tlsMinimumProtocolVersion: server.tls.minProtocolVersion.replace("TLSV", "TLSv") as "TLSv1_2" };
      }
      chains.push(filterChain({
        name: routeName,
        serverNames: serverHosts(server).filter((host) => host !== "*"),
        tls,
        filters: [httpConnectionManager({ normalizePath: true, statPrefix: `gateway_${portNumber}`, httpFilters: filters, routes: { rds: routeName }, trustDownstream: false })],
      }));
    }
    if (chains.length === 0) continue;
    const name = `${proxy.listenAddress}_${portNumber}`;
    resources.listeners.set(name, listener({ name, address: proxy.listenAddress, port: listenPort(proxy, portNumber), filterChains: chains }));
  }
}
