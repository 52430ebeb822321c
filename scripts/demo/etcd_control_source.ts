// The demo mesh on replicated control (`npm run demo -- --etcd`): a 3-member etcd holds the mesh config (the run's
// mesh YAML, written with `as-mesh apply`) and two `as-mesh control --etcd` replicas serve it. The mesh root is
// generated in the run's directory and each replica's CA signs with an intermediate of it, so no replica holds the
// root key and every agent trusts the root alone. Every Envoy's bootstrap lists both replicas (its ADS cluster
// reconnects to the other when one goes away); every agent is given both CA addresses, alternating which comes
// first so both replicas issue certificates. Edits go through etcd as well: the tour's live canary edit writes the
// run's copy of the file and applies it with `as-mesh apply -f`, as an operator would.
import { execFile } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../tools.ts";
import { startEtcdCluster, type EtcdCluster } from "../etcd.ts";
import { runCaIntermediate, runCaRoot } from "../../control/commands/ca.ts";
import { PORTS, TRUST_DOMAIN } from "../../envoy/demo/topology.ts";
import { asMeshCommand, bootstrapProxy, proxyIdentities, startAgent, type ControlAddresses, type ControlConfigSource } from "./control_source.ts";
import { prepareCaFiles, type CaFiles } from "./mesh_ca.ts";
import { freePort } from "./local_mesh.ts";
import { answers } from "./processes.ts";
import { meshFolder, type MeshFiles } from "./tour.ts";

const run = promisify(execFile);

const REPLICAS = ["a", "b"] as const;

export interface EtcdControlSource extends ControlConfigSource {
  /** Every replica's addresses, once `start` ran (`addresses()` is the first one's). */
  replicas(): ControlAddresses[];
  /** The etcd members' client URLs, comma-separated, as `--etcd` takes them. */
  etcdEndpoints(): string;
  /** The run's mesh YAML for the tour's live edit: each write is applied to etcd. */
  meshFiles(meshDir: string): MeshFiles;
}

/** `as-mesh apply -f PATH... --etcd ENDPOINTS`; throws with the command's errors when it refuses or fails. */
export async function applyToEtcd(paths: string[], endpoints: string): Promise<void> {
  const command = asMeshCommand(["apply", ...paths.flatMap((path) => ["-f", path]), "--etcd", endpoints]);
  try {
    await run(command.command, command.args, { cwd: projectRoot, timeout: 60_000 });
  } catch (error) {
    const failed = error as { stderr?: string; message: string };
    throw new Error(`as-mesh apply -f ${paths.join(" -f ")} failed: ${failed.stderr?.trim() || failed.message}`);
  }
}

/** true once something accepts TCP connections at host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export function etcdControlSource(): EtcdControlSource {
  let cluster: EtcdCluster | undefined;
  let etcdLog: WriteStream | undefined;
  const replicas: ControlAddresses[] = [];
  let mode: "netns" | "loopback" = "loopback";
  let runDir = "";
  let caFiles: CaFiles | undefined;
  let rootFile = "";
  let agentsStarted = 0;
  const started = (): ControlAddresses[] => {
    if (replicas.length < REPLICAS.length) throw new Error("the control replicas have not started");
    return replicas;
  };
  const endpoints = (): string => {
    if (!cluster) throw new Error("etcd has not started");
    return cluster.endpoints;
  };
  return {
    addresses: () => started()[0]!,
    replicas: started,
    etcdEndpoints: endpoints,
    meshFiles(meshDir) {
      const folder = meshFolder(meshDir);
      return {
        ...folder,
        async write(file, text) {
          await folder.write(file, text);
          await applyToEtcd([folder.describe(file)], endpoints());
        },
      };
    },
    async start(context) {
      mode = context.mode;
      runDir = context.runDir;
      etcdLog = createWriteStream(join(context.group.logDir, "etcd.log"));
      const log = etcdLog;
      // A member may still print a line as it exits, after stop() closed the log.
      cluster = await startEtcdCluster({ members: 3, log: (member, line) => log.writableEnded || log.write(`${member}: ${line}\n`) });
      // The whole mesh in one apply: a few dozen resources, well within one etcd transaction's 128 operations.
      await applyToEtcd([context.meshDir], cluster.endpoints);

      // The bootstrap tokens (one token file, read by both CAs), then one root and an intermediate per replica,
      // made by the code behind `as-mesh ca root` and `as-mesh ca intermediate`.
      caFiles = prepareCaFiles(join(runDir, "mesh-ca"), proxyIdentities());
      const rootDir = join(runDir, "mesh-ca", "root");
      const quiet = () => {};
      if (await runCaRoot({ out: rootDir, trustDomain: TRUST_DOMAIN, print: quiet }) !== 0) throw new Error(`as-mesh ca root --out ${rootDir} failed`);
      rootFile = join(rootDir, "root-cert.pem");

      const host = context.controlAddress;
      const tokenFile = caFiles.tokenFile;
      const etcd = cluster.endpoints;
      // In netns mode the first replica has the usual fixed ports and the second the same ones plus 100.
      const port = async (fixed: number, index: number) => mode === "netns" ? fixed + 100 * index : freePort(host);
      const addresses = await Promise.all(REPLICAS.map(async (name, index) => {
        const intermediate = join(runDir, "mesh-ca", `replica-${name}`);
        if (await runCaIntermediate({ rootDir, out: intermediate, name, print: quiet }) !== 0) throw new Error(`as-mesh ca intermediate --out ${intermediate} failed`);
        const [xdsPort, httpPort, caPort] = [await port(PORTS.controlXds, index), await port(PORTS.controlHttp, index), await port(PORTS.controlCa, index)];
        const replica: ControlAddresses = { xds: `${host}:${xdsPort}`, http: `${host}:${httpPort}`, adminUrl: `http://${host}:${httpPort}`, ca: `${host}:${caPort}` };
        const command = asMeshCommand([
          "control", "--etcd", etcd, "--xds", replica.xds, "--admin", replica.http, "--wasm-dir", join(projectRoot, "build"),
          "--ca-key", join(intermediate, "ca-key.pem"), "--ca-cert-chain", join(intermediate, "ca-cert-chain.pem"),
          "--ca-address", replica.ca, "--token-file", tokenFile, "--trust-domain", TRUST_DOMAIN,
          // A fresh mesh has no sidecars to wait for; they register as they start.
          "--startup-grace", "0", "--log-level", "info",
        ]);
        // Ready once it serves and its CA listens (the CA starts after xDS answers ready).
        await context.group.start({
          name: `control-${name}`, ...command, timeoutMs: 60_000,
          ready: async () => await answers(`${replica.adminUrl}/ready`, 200) && await accepts(host, caPort),
        });
        return replica;
      }));
      replicas.push(...addresses);
      return { metricsAddress: replicas.map((replica) => replica.http), meshRootFile: rootFile };
    },
    async beforeProxy(proxy, context) {
      const token = caFiles?.workloadTokens.get(proxy.name);
      if (!token) throw new Error(`no bootstrap token for ${proxy.name}`);
      // Every other agent asks replica b first: both intermediates sign certificates, which verify each other
      // through the root.
      const first = agentsStarted++ % replicas.length;
      const order = [...started().slice(first), ...started().slice(0, first)];
      await startAgent(proxy, context, { runDir, ca: order.map((replica) => replica.ca), rootFile, tokenFile: token });
    },
    bootstrap: (proxy) => bootstrapProxy(proxy, started(), mode, runDir),
    async stop() {
      await cluster?.stop();
      etcdLog?.end();
    },
  };
}
