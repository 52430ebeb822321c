// A client of the issuance API (istio.v1.auth.IstioCertificateService/CreateCertificate), used by the agent and by
// tests. It authenticates with a bootstrap token or with the workload's current certificate as TLS client cert.
import * as grpc from "@grpc/grpc-js";
import { CREATE_CERTIFICATE_PATH, decodeResponse, encodeRequest, type IstioCertificateRequest, type IstioCertificateResponse } from "./proto.ts";

export interface CaClientOptions {
  /** "host:port" of the CA. */
  address: string;
  /** PEM roots that sign the CA endpoint's certificate (the mesh trust bundle). */
  caCertificatesPem: string;
  /** Name to check in the CA's certificate when `address` is not one of its names. */
  serverName?: string;
}

export type CaCredential =
  | { token: string }
  | { certificate: { keyPem: string; certChainPem: string } };

export class CaRequestError extends Error {
  constructor(readonly code: grpc.status, readonly details: string) {
    super(`CA refused the CSR (${grpc.status[code] ?? code}): ${details}`);
    this.name = "CaRequestError";
  }
}

/** One channel to the CA with one credential; reuse it for many requests, close it when done. */
export class CaClient {
  private readonly client: grpc.Client;
  private readonly metadata = new grpc.Metadata();

  constructor(options: CaClientOptions, credential: CaCredential) {
    const roots = Buffer.from(options.caCertificatesPem);
    const channelCredentials = "token" in credential
      ? grpc.credentials.createSsl(roots)
      : grpc.credentials.createSsl(roots, Buffer.from(credential.certificate.keyPem), Buffer.from(credential.certificate.certChainPem));
    const channelOptions: grpc.ChannelOptions = options.serverName ? { "grpc.ssl_target_name_override": options.serverName } : {};
    this.client = new grpc.Client(options.address, channelCredentials, channelOptions);
    if ("token" in credential && credential.token) this.metadata.set("authorization", `Bearer ${credential.token}`);
  }

  /** Sends a CSR; resolves with the PEM chain (leaf first, root last) or rejects with CaRequestError. */
  createCertificate(request: IstioCertificateRequest, timeoutMs = 10_000): Promise<string[]> {
    return new Promise<string[]>((resolve, reject) => {
      this.client.makeUnaryRequest(
        CREATE_CERTIFICATE_PATH,
        (value: IstioCertificateRequest) => encodeRequest(value),
        (bytes: Buffer) => decodeResponse(bytes),
        request,
        this.metadata,
        { deadline: Date.now() + timeoutMs },
        (error, value?: IstioCertificateResponse) => {
          if (error) reject(new CaRequestError(error.code, error.details));
          else if (!value || value.certChain.length === 0) reject(new CaRequestError(grpc.status.INTERNAL, "empty certificate chain"));
          else resolve(value.certChain);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** One request on a channel of its own (renewals are rare; each may use a different client certificate). */
export async function requestCertificate(
  options: CaClientOptions,
  credential: CaCredential,
  request: IstioCertificateRequest,
  timeoutMs = 10_000,
): Promise<string[]> {
  const client = new CaClient(options, credential);
  try {
    return await client.createCertificate(request, timeoutMs);
  } finally {
    client.close();
  }
}
