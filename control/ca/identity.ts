// SPIFFE workload identities as Istio writes them: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
export interface WorkloadIdentity {
  namespace: string;
  serviceAccount: string;
}

// Kubernetes names (DNS-1123 subdomains) keep URIs unambiguous: no "/" can sneak a second path segment in.
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TRUST_DOMAIN = /^[a-z0-9]([-a-z0-9._]{0,253}[a-z0-9])?$/;

export function isValidName(value: string): boolean {
  return NAME.test(value);
}

export function assertTrustDomain(trustDomain: string): void {
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw new Error(`invalid trust domain ${JSON.stringify(trustDomain)}: use lower-case letters, digits, '-', '.', '_'`);
  }
}

export function spiffeId(trustDomain: string, identity: WorkloadIdentity): string {
  if (!isValidName(identity.namespace)) throw new Error(`invalid namespace ${JSON.stringify(identity.namespace)}`);
  if (!isValidName(identity.serviceAccount)) {
    throw new Error(`invalid service account ${JSON.stringify(identity.serviceAccount)}`);
  }
  return `spiffe://${trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
}

/** The identity in a SPIFFE URI of the given trust domain, or null when the URI is not one. */
export function parseSpiffeId(uri: string, trustDomain: string): WorkloadIdentity | null {
  const prefix = `spiffe://${trustDomain}/ns/`;
  if (!uri.startsWith(prefix)) return null;
  const match = /^([^/]+)\/sa\/([^/]+)$/.exec(uri.slice(prefix.length));
  if (!match || !isValidName(match[1]) || !isValidName(match[2])) return null;
  return { namespace: match[1], serviceAccount: match[2] };
}
