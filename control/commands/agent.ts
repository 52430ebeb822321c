// `as-mesh agent`: the per-workload agent until SIGINT/SIGTERM. Creates the workload key in this process, gets its
// SVID from the mesh CA with the bootstrap token, renews it, and serves SDS (`default`, `ROOTCA`) to the workload's
// Envoy on a Unix socket. Options are parsed here so the command can be run as `as-mesh agent <options>` or added
// to a program with `program.addCommand(agentCommand())`.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";

export interface AgentCommandOptions {
  /** Issuance addresses: the first, then the other control replicas tried in turn when one is unreachable. */
  ca: string[];
  caRoot: string;
  caServerName?: string;
  tokenFile?: string;
  sdsSocket: string;
  ttl: number;
  trustBundle?: string;
  keyType: "ECDSA" | "RSA";
  logLevel: string;
}

/** Istio's path for the workload SDS socket, relative to the working directory. */
export const DEFAULT_SDS_SOCKET = "var/run/secrets/workload-spiffe-uds/socket";

function addresses(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((address) => address.trim()).filter(Boolean)];
}

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError("expected whole seconds");
  return parsed;
}

export function agentCommand(): Command {
  return new Command("agent")
    .description("per-workload agent: creates the key, gets and renews the certificate, serves SDS to Envoy")
    .requiredOption("--ca <host:port>", "the mesh CA's issuance address (gRPC over TLS); repeat or comma-separate for several control replicas, tried in turn when one is unreachable", addresses)
    .requiredOption("--ca-root <file>", "PEM root(s) that sign the CA endpoint's certificate (the mesh root)")
    .option("--ca-server-name <name>", "name to expect in the CA's certificate when --ca is not one of its names")
    .option("--token-file <file>", "bootstrap token the operator issued for this workload (re-read for every request)")
    .option("--sds-socket <path>", "Unix socket for the workload's Envoy (its sds-grpc cluster)", DEFAULT_SDS_SOCKET)
    .option("--ttl <seconds>", "requested certificate lifetime (0: the CA's default, 24 h)", seconds, 0)
    .option("--trust-bundle <file>", "extra PEM roots to serve in ROOTCA, e.g. old + new root during a rollover (watched)")
    .addOption(new Option("--key-type <type>", "workload key type").choices(["ECDSA", "RSA"]).default("ECDSA"))
    .option("--log-level <level>", "pino log level", "info")
    .action(async (options: AgentCommandOptions) => {
      await runAgentWith(options);
    });
}

/** Runs `as-mesh agent` with its own arguments (what follows `agent` on the command line). */
export async function runAgent(argv: string[]): Promise<void> {
  await agentCommand().exitOverride((error) => { throw error; }).parseAsync(argv, { from: "user" });
}

export async function runAgentWith(options: AgentCommandOptions): Promise<void> {
  const { pino } = await import("pino");
  const { startAgent } = await import("../agent/index.ts");
  const { CA_LOG_REDACT } = await import("../ca/server.ts");
  const logger = pino({ name: "as-mesh-agent", level: options.logLevel, redact: CA_LOG_REDACT });
  if (!options.tokenFile) logger.warn("no --token-file: the agent can only renew a certificate it already has, and it has none yet");
  const agent = await startAgent({
    ca: {
      address: options.ca[0]!,
      caCertificatesPem: readFileSync(options.caRoot, "utf8"),
      ...(options.caServerName ? { serverName: options.caServerName } : {}),
    },
    caFallbackAddresses: options.ca.slice(1),
    ...(options.tokenFile ? { tokenFile: resolve(options.tokenFile) } : {}),
    sdsSocketPath: resolve(options.sdsSocket),
    ttlSeconds: options.ttl,
    keyType: options.keyType,
    ...(options.trustBundle ? { trustBundleFile: resolve(options.trustBundle) } : {}),
    logger,
  });
  const stop = async (signal: string) => {
    logger.info({ signal }, "stopping");
    await agent.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}
