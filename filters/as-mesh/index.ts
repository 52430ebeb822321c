// as-mesh: the three filters in one module, so a chain of them with one vm_id runs in one VM per worker. The
// plugin's root_id chooses the filter: `jwt-auth`, `rate-limit`, `metrics` (each configured exactly as its own
// module), or `chain` for all three in one filter context (see chain.ts and README.md).
export * from "../../assembly/abi/exports";
import { RootContext, registerRootContext } from "../../assembly";
import "../jwt-auth/index";
import "../rate-limit/index";
import "../metrics/index";
import { ChainRoot } from "./chain";

registerRootContext((id: u32): RootContext => new ChainRoot(id), "chain");
