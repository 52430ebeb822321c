// Where a runner puts the demo mesh's workloads: the addresses and ports each proxy's bootstrap is written with.

export interface Endpoint { address: string; port: number }

/** Where the runner put things: addresses and ports as seen from inside each workload. */
export interface MeshPlacement {
  /** Address a proxy binds its listeners and admin to (0.0.0.0 in a namespace or container). */
  bindAddress: string;
  /** The workload's own ports (fixed in a namespace or container, distinct free ports on shared loopback). */
  portsOf(name: string): { app: number; inbound: number; outbound: number; admin: number };
  /** Where other proxies reach a workload's sidecar inbound (or the issuer's app). */
  inboundOf(name: string): Endpoint;
  /** Address the sidecar reaches its own app at. */
  appAddress: string;
  /** Directory holding the .wasm modules as the proxy sees it. */
  wasmDir: string;
  /** The port the gateway's HTTPS server (the Gateway's port 8443) binds. */
  gatewayHttpsPort: number;
}
