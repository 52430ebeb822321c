// Where things are in the Compose mesh: the fixed-IP network (so addresses are known when the bootstraps are
// generated) and the paths of the volumes the control, agent and sidecar containers share.
import { topology } from "../../envoy/demo/topology.ts";

/** A subnet of its own: the local netns runner's bridge holds 10.77.0.0/24, Docker's gateway takes .1 here. */
export const COMPOSE_SUBNET = { prefix: "10.78.0", bits: 24 } as const;
const CONTROL_HOST = 2;

/** Fixed address of a compose service (the control, the issuer, the gateway or a workload). */
export function composeAddress(name: string): string {
  if (name === topology.control.name) return `${COMPOSE_SUBNET.prefix}.${CONTROL_HOST}`;
  if (name === topology.gateway.name) return `${COMPOSE_SUBNET.prefix}.${topology.gateway.host}`;
  if (name === topology.issuer.name) return `${COMPOSE_SUBNET.prefix}.${topology.issuer.host}`;
  const workload = topology.workloads.find((w) => w.name === name);
  if (!workload) throw new Error(`no compose address for ${name}`);
  return `${COMPOSE_SUBNET.prefix}.${workload.host}`;
}

export const COMPOSE_PATHS = {
  /** The checkout, mounted read-only into the Node containers. */
  checkout: "/as-mesh",
  /** The writable copy of the mesh YAML the control service watches. */
  meshConfig: "/var/lib/as-mesh/mesh",
  /** The control's own state (CA root, token hashes): the control-state volume. */
  controlState: "/var/lib/as-mesh/control",
  /** In the control container: the CA material (scripts/demo/mesh_ca.ts lays it out), in the control-state volume. */
  meshCa: "/var/lib/as-mesh/control/mesh-ca",
  /** In the control container: one pod volume per proxy, at pods/<name>. */
  pods: "/var/lib/as-mesh/pods",
  /** Written by the control container once every pod volume has its token and the root (its healthcheck). */
  tokensMinted: "/var/lib/as-mesh/control/tokens-minted",
  /** In an agent and its sidecar: the pod volume (token, root-cert.pem, sds.sock). */
  pod: "/var/run/as-mesh",
} as const;
