import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { pino } from "pino";
import { TypeUrl } from "../api/index.ts";
import { SecretSchema } from "../api/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.ts";
import { MeshCa } from "../ca/ca.ts";
import { CaServer } from "../ca/server.ts";
import { generateToken, TokenAuthority } from "../ca/tokens.ts";
import { XdsClient } from "../xds/index.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("`as-mesh agent` serves SDS from a token file and removes its socket on SIGTERM", { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-agent-cmd-"));
  const root = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  const ca = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: "cluster.local" });
  const { token, entry } = generateToken({ namespace: "shop", serviceAccount: "checkout" });
  const server = new CaServer({ ca, tokens: new TokenAuthority([entry]), logger: pino({ level: "silent" }) });
  const socket = join(dir, "run", "sds.sock");
  let output = "";
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const port = await server.listen("127.0.0.1:0");
    writeFileSync(join(dir, "token"), token + "\n", { mode: 0o600 });
    writeFileSync(join(dir, "root.pem"), server.trustBundlePem);
    child = spawn(process.execPath, [
      "--import", "tsx", "--input-type=module", "-e",
      "const { runAgent } = await import('./control/commands/agent.ts'); await runAgent(process.argv.slice(1));",
      "--", "--ca", `127.0.0.1:${port}`, "--ca-root", join(dir, "root.pem"), "--token-file", join(dir, "token"),
      "--sds-socket", socket, "--ttl", "3600",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr?.on("data", (chunk: Buffer) => { output += chunk.toString(); });
    for (let i = 0; i < 200 && !output.includes("obtained the workload certificate"); i++) await sleep(50);
    assert.match(output, /obtained the workload certificate/, output);

    const client = new XdsClient(`unix:${socket}`);
    const stream = client.sotw({ id: "sidecar" }, { service: "sds" });
    try {
      stream.request(TypeUrl.secret, ["default", "ROOTCA"]);
      const response = await stream.next(5000);
      const names = response.resources.map((any) => anyUnpack(any, SecretSchema)?.name).sort();
      assert.deepEqual(names, ["ROOTCA", "default"]);
    } finally {
      stream.close();
      client.close();
    }

    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.equal(existsSync(socket), false, "the socket is removed on shutdown");
    assert.ok(!output.includes(token), "the token is never logged");
    assert.ok(!output.includes("PRIVATE KEY"), "the key is never logged");
  } finally {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
