// `as-mesh control`: the control service for a folder of mesh YAML, until SIGINT/SIGTERM.
import { resolve } from "node:path";
import pino from "pino";
import { FolderStore } from "../store/index.ts";
import { loadWasmModules } from "../admin/wasm_modules.ts";
import { ControlService } from "../server.ts";

export interface ControlCommandOptions {
  config: string;
  xds: string;
  admin: string;
  wasmDir: string;
  logLevel: string;
  startupGrace: number;
  registrationGrace: number;
}

export async function runControl(options: ControlCommandOptions): Promise<void> {
  const logger = pino({ name: "as-mesh-control", level: options.logLevel });
  const modules = loadWasmModules(resolve(options.wasmDir));
  if (modules.size === 0) logger.warn({ wasmDir: options.wasmDir }, "no .wasm modules found; run `npm run build` to serve the as-mesh filters");
  const service = new ControlService({
    store: new FolderStore(resolve(options.config), { logger: logger.child({ component: "store" }) }),
    xdsAddress: options.xds,
    adminAddress: options.admin,
    wasmModules: modules,
    startupGraceMs: options.startupGrace,
    registrationGraceMs: options.registrationGrace,
    logger,
  });
  await service.start();
  const stop = async (signal: string) => {
    logger.info({ signal }, "stopping");
    await service.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}
