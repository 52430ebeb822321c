// An agent given several control replicas' CA addresses: its first certificate comes from the first one that
// answers, and when that replica goes away its renewal goes to the next, whose intermediate (of the same root)
// signs the new certificate; the previous certificate authenticates there because both chain to the root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { MeshCa } from "../ca/ca.ts";
import { createIntermediate } from "../ca/intermediate.ts";
import { CaServer } from "../ca/server.ts";
import { generateToken, TokenAuthority } from "../ca/tokens.ts";
import { startAgent } from "./agent.ts";

const TRUST_DOMAIN = "cluster.local";
const logger = pino({ level: "silent" });

/** A loopback port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("renews at another CA replica when the one it used is gone", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-agent-failover-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
  const { token, entry } = generateToken({ namespace: "shop", serviceAccount: "checkout" });
  const tokens = new TokenAuthority([entry]);
  const replicas = await Promise.all(["a", "b"].map(async (name) => {
    const intermediate = await createIntermediate({ rootKeyPem: root.keyPem, rootCertPem: root.certPem, name });
    const ca = await MeshCa.fromPem({ keyPem: intermediate.keyPem, certChainPem: intermediate.certChainPem }, { trustDomain: TRUST_DOMAIN });
    const server = new CaServer({ ca, tokens, logger });
    t.after(() => server.close());
    return { intermediate, server, address: `127.0.0.1:${await server.listen("127.0.0.1:0")}` };
  }));
  const [a, b] = replicas as [typeof replicas[0], typeof replicas[0]];
  const agent = await startAgent({
    ca: { address: `127.0.0.1:${await closedPort()}`, caCertificatesPem: root.certPem }, caFallbackAddresses: [a.address, b.address],
    token, sdsSocketPath: join(dir, "sds.sock"), ttlSeconds: 3600, logger, retry: { initialMs: 50, maxMs: 200 },
  });
  t.after(() => agent.close());
  const first = await agent.ready();
  assert.equal(first.certChain[1], a.intermediate.certPem, "the first address is down: replica A issued it");

  // Without the token, replica B must take the certificate A issued as the credential.
  tokens.replace([]);
  await a.server.close();
  await agent.renewNow();
  const renewed = agent.current()!;
  assert.notEqual(renewed.serialNumber, first.serialNumber);
  assert.equal(renewed.certChain[1], b.intermediate.certPem);
  assert.equal(renewed.certChain[2], root.certPem);
  assert.equal(agent.status().lastError, null);
});
