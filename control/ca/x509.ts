// The one place that loads @peculiar/x509: installs the Reflect metadata shim it needs first and points it at
// Node's WebCrypto, so every module in the control service gets a ready library from here.
import "./reflect_metadata.ts";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
export const subtle = webcrypto.subtle as unknown as SubtleCrypto;
