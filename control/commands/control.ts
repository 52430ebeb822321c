// `as-mesh control`: the control service for a folder of mesh YAML or the mesh config in etcd, until SIGINT/SIGTERM.
import { resolve } from "node:path";
import pino from "pino";
import { FolderStore, type ConfigStore } from "../store/index.ts";
import type { WorkloadRegistry } from "../registry/index.ts";
import { loadWasmModules } from "../admin/wasm_modules.ts";
import { ControlService } from "../server.ts";
import { GatewayCredentials } from "../credentials.ts";
import { ControlCa, type ControlCaOptions } from "./control_ca.ts";

export interface ControlCommandOptions extends Partial<Omit<ControlCaOptions, "caAddress" | "trustDomain">> {
  caAddress?: string;
  trustDomain?: string;
  /** The CLI's spellings of caKeyFile / caCertChainFile. */
  caKey?: string;
  caCertChain?: string;
  config?: string;
  /** Comma-separated etcd client URLs: the store several replicas share. */
  etcd?: string;
  xds: string;
  admin: string;
  wasmDir: string;
  logLevel: string;
  startupGrace: number;
  registrationGrace: number;
  /** Folder of gateway TLS credentials by credentialName (<name>.crt/.key or <name>/tls.crt, tls.key). */
  credentialsDir?: string;
}

export async function runControl(options: ControlCommandOptions): Promise<void> {
  const logger = pino({ name: "as-mesh-control", level: options.logLevel });
  const modules = loadWasmModules(resolve(options.wasmDir));
  if (modules.size === 0) logger.warn({ wasmDir: options.wasmDir }, "no .wasm modules found; run `npm run build` to serve the as-mesh filters");
  const { store, registry } = await openStore(options, logger);
  const ca = new ControlCa({
    ...options, caKeyFile: options.caKey ?? options.caKeyFile, caCertChainFile: options.caCertChain ?? options.caCertChainFile,
    caAddress: options.caAddress ?? "127.0.0.1:15012", trustDomain: options.trustDomain ?? "cluster.local",
    sharedStore: Boolean(options.etcd),
  });
  const service = new ControlService({
    trustDomain: options.trustDomain,
    certificates: ca,
    store,
    registry,
    xdsAddress: options.xds,
    adminAddress: options.admin,
    wasmModules: modules,
    startupGraceMs: options.startupGrace,
    registrationGraceMs: options.registrationGrace,
    gatewayCredentials: new GatewayCredentials({
      dir: options.credentialsDir ? resolve(options.credentialsDir) : undefined,
      issuer: () => ca.servingIssuer(),
      logger: logger.child({ component: "credentials" }),
    }),
    logger,
  });
  await service.start();
  await ca.start(logger.child({ component: "ca" }), service.registry);
  // Gateways whose credential the CA issues get it now that the CA runs.
  await service.refreshCredentials();
  const stop = async (signal: string) => {
    logger.info({ signal }, "stopping");
    await service.stop();
    await ca.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

/** The folder store (registrations local), or etcd for the config and the registrations every replica shares. */
async function openStore(options: ControlCommandOptions, logger: pino.Logger): Promise<{ store: ConfigStore; registry?: WorkloadRegistry }> {
  const storeLogger = logger.child({ component: "store" });
  if (options.etcd && options.config) throw new Error("give either --config or --etcd, not both");
  if (options.etcd) {
    // Loaded only here, so folder users do not load the etcd client.
    const { EtcdStore, parseEndpoints } = await import("../store/etcd.ts");
    const { EtcdRegistry } = await import("../registry/etcd.ts");
    const store = new EtcdStore({ endpoints: parseEndpoints(options.etcd), logger: storeLogger });
    // A registration's lease lives as long as the grace a disconnected sidecar gets, so a dead replica's sidecars
    // stay endpoints while they reconnect elsewhere.
    const registry = new EtcdRegistry({ client: store.etcd, ttlSeconds: options.registrationGrace / 1000, logger: logger.child({ component: "registry" }) });
    return { store, registry };
  }
  if (!options.config) throw new Error("name the mesh config: --config <dir> or --etcd <endpoints>");
  return { store: new FolderStore(resolve(options.config), { logger: storeLogger }) };
}
