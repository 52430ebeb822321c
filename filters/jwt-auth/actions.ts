// Changes to the request that verified tokens call for, applied only once the whole requirement passed.
import { HeaderName } from "../../assembly";

export const enum ActionKind { AddHeader, RemoveHeader, RemoveParam }

const NO_VALUE = new ArrayBuffer(0);

/**
 * One change: add a header (name, value), remove a header, or remove a query parameter (name). Built when a token
 * is verified (or when the configuration loads), encoded once, and reused on every request that needs it.
 */
export class Action {
  constructor(public kind: ActionKind, public name: HeaderName, public value: ArrayBuffer = NO_VALUE) {}
}
