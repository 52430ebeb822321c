// TLS certificates for Gateway servers (`tls.mode: SIMPLE` with `credentialName`), as istiod serves the Kubernetes
// secrets they name over SDS. A credential comes from the operator's folder when it holds one
// (`<name>.crt` + `<name>.key`, or `<name>/tls.crt` + `<name>/tls.key` like a Kubernetes TLS secret), else it is
// issued by the mesh CA for the server's hosts and renewed at half its lifetime.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { MeshConfig } from "./config/index.ts";

export interface ServingCertificateIssuer {
  issueServingCertificate(names: { dns?: string[] }, ttlSeconds?: number): Promise<{ keyPem: string; certChainPem: string; notAfter: Date }>;
}

export interface Credential {
  certificateChain: string;
  privateKey: string;
}

interface Held extends Credential {
  source: "folder" | "ca";
  hosts: string;
  renewAt: number;
}

const ISSUED_TTL_SECONDS = 30 * 24 * 3600;

/** Hosts a credential must cover: every DNS name its Gateway servers list ("ns/host" counts as "host"). */
function wantedCredentials(mesh: MeshConfig): Map<string, string[]> {
  const wanted = new Map<string, Set<string>>();
  for (const gateway of mesh.list("Gateway")) {
    for (const server of gateway.spec.servers) {
      const name = server.tls?.mode === "SIMPLE" ? server.tls.credentialName : undefined;
      if (!name) continue;
      const hosts = wanted.get(name) ?? new Set<string>();
      for (const host of server.hosts) {
        const bare = host.includes("/") ? host.slice(host.indexOf("/") + 1) : host;
        if (bare !== "*") hosts.add(bare);
      }
      wanted.set(name, hosts);
    }
  }
  return new Map([...wanted].map(([name, hosts]) => [name, [...hosts].sort()]));
}

function readFolderCredential(dir: string, name: string): Credential | null {
  for (const [cert, key] of [[`${name}.crt`, `${name}.key`], [join(name, "tls.crt"), join(name, "tls.key")]]) {
    const certPath = join(dir, cert);
    const keyPath = join(dir, key);
    if (existsSync(certPath) && existsSync(keyPath)) {
      return { certificateChain: readFileSync(certPath, "utf8"), privateKey: readFileSync(keyPath, "utf8") };
    }
  }
  return null;
}

export class GatewayCredentials {
  private readonly held = new Map<string, Held>();

  constructor(private readonly options: { dir?: string; issuer?: () => ServingCertificateIssuer | null; logger: Logger }) {}

  /** The credentials translation hands to gateways, by credentialName. */
  current(): Record<string, Credential> {
    return Object.fromEntries([...this.held].map(([name, { certificateChain, privateKey }]) => [name, { certificateChain, privateKey }]));
  }

  /** Loads or issues what the mesh's Gateways name; returns whether any credential changed. */
  async refresh(mesh: MeshConfig): Promise<boolean> {
    const wanted = wantedCredentials(mesh);
    let changed = false;
    for (const name of [...this.held.keys()]) {
      if (!wanted.has(name)) changed = this.held.delete(name) || changed;
    }
    for (const [name, hosts] of wanted) {
      try {
        changed = (await this.refreshOne(name, hosts)) || changed;
      } catch (error) {
        this.options.logger.error({ credential: name, err: error }, "could not load or issue a gateway credential; its TLS handshakes fail until it is");
      }
    }
    return changed;
  }

  private async refreshOne(name: string, hosts: string[]): Promise<boolean> {
    const previous = this.held.get(name);
    const fromFolder = this.options.dir ? readFolderCredential(this.options.dir, name) : null;
    if (fromFolder) {
      if (previous?.source === "folder" && previous.certificateChain === fromFolder.certificateChain && previous.privateKey === fromFolder.privateKey) return false;
      this.held.set(name, { ...fromFolder, source: "folder", hosts: hosts.join(","), renewAt: Infinity });
      this.options.logger.info({ credential: name }, "gateway credential loaded from the credentials folder");
      return true;
    }
    if (previous?.source === "ca" && previous.hosts === hosts.join(",") && Date.now() < previous.renewAt) return false;
    const issuer = this.options.issuer?.();
    if (!issuer) return false;
    const issued = await issuer.issueServingCertificate({ dns: hosts }, ISSUED_TTL_SECONDS);
    const lifetime = issued.notAfter.getTime() - Date.now();
    this.held.set(name, {
      certificateChain: issued.certChainPem, privateKey: issued.keyPem, source: "ca", hosts: hosts.join(","),
      renewAt: Date.now() + lifetime / 2,
    });
    this.options.logger.info({ credential: name, hosts, notAfter: issued.notAfter.toISOString() }, "gateway credential issued by the mesh CA");
    return true;
  }
}
