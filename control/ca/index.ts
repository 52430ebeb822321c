// The mesh CA: signing (MeshCa), the issuance API (CaServer) and its client, bootstrap tokens, SPIFFE identities.
export { MeshCa, CaError, createKeyAndCsr, splitPemCertificates, parsePemBundle, CA_KEY_FILE, CA_CERT_CHAIN_FILE } from "./ca.ts";
export type { CaErrorReason, MeshCaOptions, RootOptions, SignedCertificate } from "./ca.ts";
export { CaServer, CA_LOG_REDACT } from "./server.ts";
export type { CaServerOptions, IssuedCertificate } from "./server.ts";
export { CaClient, CaRequestError, requestCertificate } from "./client.ts";
export type { CaClientOptions, CaCredential } from "./client.ts";
export { TokenAuthority, generateToken, hashToken, formatTokenFile, parseTokenFile } from "./tokens.ts";
export type { TokenEntry, TokenCheck } from "./tokens.ts";
export { spiffeId, parseSpiffeId, isValidName } from "./identity.ts";
export type { WorkloadIdentity } from "./identity.ts";
export { startCaService } from "./service.ts";
export type { CaService, CaServiceOptions } from "./service.ts";
