// Ports for processes a script starts and that bind seconds after the port is picked (Envoys, etcd members, the
// control service): chosen below the kernel's ephemeral range, where no outgoing connection or port-0 listener
// can take one in the meantime.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** The lowest port the kernel hands out on its own (connect() and port-0 binds), from ip_local_port_range. */
function ephemeralPortsStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

const handedOut = new Set<number>();

function bindsOn(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A port free on `host`, chosen below the kernel's ephemeral range: the proxies bind it seconds later, and in the
 * meantime an outgoing connection or a port-0 listener could take a port from that range.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const high = Math.min(ephemeralPortsStart(), 65536) - 1;
  const low = Math.min(20000, high - 1000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port) || !(await bindsOn(host, port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${low} and ${high} on ${host}`);
}
