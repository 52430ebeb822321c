// as-mesh: one command for the control service and its tools.
//   as-mesh control       run the xDS server, the CA and the admin/metrics port for a mesh config folder
//   as-mesh validate      check mesh YAML offline, with every error and its path
//   as-mesh bootstrap     write the Envoy bootstrap for one workload (or the edge gateway)
//   as-mesh proxy-status  list connected proxies and their sync state, like istioctl proxy-status
//   as-mesh agent         per-workload agent: key, certificate and SDS for the workload's Envoy
//   as-mesh apply|get|delete  kubectl-like verbs on the mesh config in etcd (--etcd) or a folder (--config)
//   as-mesh ca root|intermediate  the offline mesh root and one intermediate per control replica
// Each subcommand loads its code on demand, so `validate` stays quick.
import { Command, InvalidArgumentError } from "commander";

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return parsed;
}

function keyValues(value: string, previous: Record<string, string> = {}): Record<string, string> {
  for (const pair of value.split(",").filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new InvalidArgumentError(`"${pair}" is not key=value`);
    previous[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return previous;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const program = new Command("as-mesh")
  .description("as-mesh control service: xDS, certificates and tools for a mesh of stock Envoys running the as-mesh Wasm filters")
  .showHelpAfterError();

program.command("control")
  .description("serve ADS (state-of-the-world and delta) to Envoys from a folder of Istio-shaped mesh YAML, or from etcd")
  .option("-c, --config <dir>", "folder of mesh YAML, re-read on change")
  .option("--etcd <endpoints>", "etcd client URLs (comma-separated) holding the mesh config, shared by several replicas")
  .option("--xds <host:port>", "gRPC address Envoys connect to", "127.0.0.1:15010")
  .option("--admin <host:port>", "HTTP address for /ready, /metrics, /debug/syncz and the .wasm modules", "127.0.0.1:15014")
  .option("--wasm-dir <dir>", "folder of as-mesh .wasm modules to serve (as-mesh://<name>)", "build")
  .option("--startup-grace <ms>", "after a start, how long proxies wait for sidecars to re-register", integer, 5000)
  .option("--registration-grace <ms>", "how long a disconnected sidecar stays an endpoint", integer, 10_000)
  .option("--credentials-dir <dir>", "gateway TLS credentials by credentialName (<name>.crt + <name>.key); others are issued by the mesh CA")
  .option("--log-level <level>", "pino log level", "info")
  .option("--trust-domain <domain>", "SPIFFE trust domain of the mesh's identities", "cluster.local")
  .option("--ca-dir <dir>", "run the mesh CA: its key and root live here (a root is generated when absent)")
  .option("--ca-key <file>", "operator-supplied CA signing key (PEM) instead of --ca-dir's")
  .option("--ca-cert-chain <file>", "operator-supplied CA chain (PEM, signing certificate first, root last)")
  .option("--ca-address <host:port>", "address of the CA's issuance API (gRPC over TLS)", "127.0.0.1:15012")
  .option("--token-file <file>", "bootstrap tokens and the identity each grants (watched)")
  .option("--extra-roots-file <file>", "further roots to publish and trust during a root rollover (watched)")
  .option("--workload-ttl <seconds>", "workload certificate lifetime (default 24 h)", integer)
  .action(async (options: {
    config?: string; etcd?: string; xds: string; admin: string; wasmDir: string; logLevel: string; startupGrace: number; registrationGrace: number;
    trustDomain: string; caDir?: string; caKey?: string; caCertChain?: string; caAddress: string; tokenFile?: string; extraRootsFile?: string; workloadTtl?: number;
  }) => {
    const { runControl } = await import("./commands/control.ts");
    await runControl(options);
  });

program.command("validate")
  .description("validate mesh YAML files or folders offline; exits non-zero on any error")
  .argument("<paths...>", "YAML files or folders (searched recursively)")
  .option("-q, --quiet", "print errors only, not warnings")
  .action(async (paths: string[], options: { quiet?: boolean }) => {
    const { runValidate } = await import("./commands/validate.ts");
    process.exitCode = await runValidate(paths, options);
  });

program.command("bootstrap")
  .description("write the Envoy bootstrap for one workload: node identity and metadata, ADS to the control service")
  .option("--type <type>", "sidecar, or router for an edge gateway", "sidecar")
  .option("--id <node-id>", "Envoy node id (default: Istio's <type>~<ip>~<workload>.<ns>~<ns>.svc.cluster.local)")
  .option("--namespace <ns>", "workload namespace", "default")
  .option("--service-account <sa>", "workload service account", "default")
  .option("--workload-name <name>", "workload name for telemetry (default: the app label)")
  .option("--labels <k=v,...>", "workload labels (repeatable)", keyValues, {})
  .option("--ip <address>", "workload address: inbound listeners bind here, peers connect here", "127.0.0.1")
  .option("--inbound-ports <name=port,...>", "service port name → port the inbound listener binds on --ip", keyValues)
  .option("--app-ports <name=port,...>", "service port name → port the app listens on at 127.0.0.1", keyValues)
  .option("--listen-address <address>", "address outbound (or gateway) listeners bind")
  .option("--listen-ports <port=port,...>", "config port → port actually bound (\"*\" for all; 0: any)", keyValues)
  .option("--xds <host:port>", "control service gRPC address (repeat for several replicas)", collect, [])
  .option("--control-http <host:port>", "control service HTTP address, where Envoy fetches .wasm modules")
  .option("--delta", "use incremental (delta) xDS instead of state of the world")
  .option("--admin-address <address>", "address Envoy's admin binds (e.g. 0.0.0.0 so Prometheus can scrape it)", "127.0.0.1")
  .option("--admin-port <port>", "Envoy admin port (0: any)", integer, 15000)
  .option("--sds-socket <path>", "the workload agent's SDS Unix socket: the Envoy gets its mTLS certificate there")
  .option("--trust-domain <domain>", "SPIFFE trust domain of the workload (default: the control service's)")
  .option("-o, --output <file>", "write here instead of stdout")
  .action(async (options: Record<string, unknown>) => {
    const { runBootstrap } = await import("./commands/bootstrap.ts");
    await runBootstrap(options as never);
  });

program.command("proxy-status")
  .description("list every connected proxy with its sync state per resource type (SYNCED, STALE, NOT SENT, ERROR)")
  .option("--admin <url>", "control service admin URL", "http://127.0.0.1:15014")
  .option("-o, --output <format>", "table or json", "table")
  .option("--envoy <admin-url>", "an Envoy admin URL whose /certs to compare with the CA's records (repeatable)", collect, [])
  .action(async (options: { admin: string; output: string; envoy: string[] }) => {
    const { runProxyStatus } = await import("./commands/proxy_status.ts");
    process.exitCode = await runProxyStatus(options);
  });

const storeOptions = (command: Command): Command => command
  .option("--etcd <endpoints>", "etcd client URLs (comma-separated) the control service reads")
  .option("-c, --config <dir>", "the control service's folder of mesh YAML");

storeOptions(program.command("apply")
  .description("create or replace resources from YAML, validated against the whole mesh; prints a diff of the change")
  .requiredOption("-f, --filename <path>", "YAML file or folder (repeatable)", collect, [])
  .option("--dry-run", "show the diff without writing"))
  .action(async (options: { filename: string[]; etcd?: string; config?: string; dryRun?: boolean }) => {
    const { runApply } = await import("./commands/apply.ts");
    process.exitCode = await runApply(options);
  });

storeOptions(program.command("get")
  .description("list resources (KIND: ServiceEntry, vs, destinationrules, ... or all) with their store revisions")
  .argument("<kind>", "resource kind")
  .argument("[name]", "resource name")
  .option("-n, --namespace <ns>", "namespace", "default")
  .option("-A, --all-namespaces", "every namespace")
  .option("-o, --output <format>", "table, yaml or json", "table"))
  .action(async (kind: string, name: string | undefined, options: { namespace: string; allNamespaces?: boolean; output: string; etcd?: string; config?: string }) => {
    const { runGet } = await import("./commands/get.ts");
    process.exitCode = await runGet(kind, name, options);
  });

storeOptions(program.command("delete")
  .description("delete resources by KIND NAME or -f FILE, refused if the mesh without them would be invalid")
  .argument("[kind]", "resource kind")
  .argument("[name]", "resource name")
  .option("-f, --filename <path>", "delete the resources a YAML file or folder defines (repeatable)", collect, [])
  .option("-n, --namespace <ns>", "namespace", "default")
  .option("--ignore-not-found", "no error for resources that do not exist")
  .option("--dry-run", "show the diff without writing"))
  .action(async (kind: string | undefined, name: string | undefined, options: { filename: string[]; namespace: string; ignoreNotFound?: boolean; dryRun?: boolean; etcd?: string; config?: string }) => {
    const { runDelete } = await import("./commands/delete.ts");
    process.exitCode = await runDelete(kind, name, options);
  });

const caCommand = program.command("ca")
  .description("offline CA material: the mesh root, and one intermediate per control replica signed by it");

caCommand.command("root")
  .description("create the mesh root CA: root-key.pem (0600) and root-cert.pem in --out; keep the key offline")
  .requiredOption("--out <dir>", "folder to create them in (never overwrites a key)")
  .option("--trust-domain <domain>", "SPIFFE trust domain, the root's O", "cluster.local")
  .option("--ttl <duration>", "lifetime, e.g. 3650d (default 10 years)")
  .option("--key-type <type>", "ECDSA (P-256) or RSA (2048)", "ECDSA")
  .action(async (options: { out: string; trustDomain: string; ttl?: string; keyType: string }) => {
    if (options.keyType !== "ECDSA" && options.keyType !== "RSA") throw new InvalidArgumentError(`--key-type must be ECDSA or RSA, not ${options.keyType}`);
    const { runCaRoot } = await import("./commands/ca.ts");
    process.exitCode = await runCaRoot({ ...options, keyType: options.keyType });
  });

caCommand.command("intermediate")
  .description("mint one control replica's intermediate CA (key + chain intermediate, root) signed by the root in --root-dir")
  .requiredOption("--root-dir <dir>", "folder of root-key.pem and root-cert.pem (from as-mesh ca root)")
  .requiredOption("--out <dir>", "folder for ca-key.pem (0600), ca-cert.pem, ca-cert-chain.pem, root-cert.pem")
  .option("--ttl <duration>", "lifetime, e.g. 365d (default); capped at the root's expiry")
  .option("--name <name>", "replica name for the certificate's CN")
  .action(async (options: { rootDir: string; out: string; ttl?: string; name?: string }) => {
    const { runCaIntermediate } = await import("./commands/ca.ts");
    process.exitCode = await runCaIntermediate(options);
  });

// The agent's options are declared with its code (commands/agent.ts), loaded only when it runs.
program.command("agent")
  .description("per-workload agent: creates the key, gets and renews the certificate, serves SDS to Envoy")
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .action(async () => {
    const { runAgent } = await import("./commands/agent.ts");
    await runAgent(process.argv.slice(3));
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`as-mesh: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
