// Per-route settings: jwt_authn's PerRouteConfig (`requirement_name` or `disabled`). A Wasm filter cannot read a
// route's typed_per_filter_config, so the route carries the same words in its metadata instead:
//
//   routes:
//   - match: { prefix: /admin }
//     route: { cluster: app }
//     metadata: { filter_metadata: { jwt-auth: { requirement_name: admins } } }   # or { disabled: true }
//
// and the filter reads them through the `xds.route_metadata` attribute. A route with such metadata is decided by it
// alone (rules are not consulted), as a route with a PerRouteConfig is in jwt_authn.
import { PropertyPath, deserializeHeaders } from "../../assembly";

/** The metadata namespace the filter reads on each route. */
export const ROUTE_METADATA_NAMESPACE = "jwt-auth";

const SETTINGS = new PropertyPath(["xds", "route_metadata", "filter_metadata", ROUTE_METADATA_NAMESPACE]);

export class RouteSettings {
  /** Whether the route has jwt-auth metadata at all. */
  present: bool = false;
  disabled: bool = false;
  requirementName: string = "";
  /** Non-empty when the metadata cannot be used: the request is then refused, not let through. */
  problem: string = "";

  reset(): void {
    this.present = false;
    this.disabled = false;
    this.requirementName = "";
    this.problem = "";
  }
}

function isPrintable(text: string): bool {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

/**
 * Reads the current route's settings into `out`. Envoy hands the metadata Struct over as a map of field name to
 * value: strings as their bytes, booleans as one byte.
 */
export function readRouteSettings(out: RouteSettings): void {
  out.reset();
  const bytes = SETTINGS.get();
  if (bytes === null) return;
  out.present = true;
  const fields = deserializeHeaders(bytes);
  if (fields.length == 0) {
    out.problem = "route metadata " + ROUTE_METADATA_NAMESPACE + " must have requirement_name or disabled";
    return;
  }
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i].key;
    if (name == "requirement_name") {
      // Envoy hands a number, list or object over in binary (with NUL or other control bytes); a name never has them.
      const value = fields[i].value;
      if (!isPrintable(value)) {
        out.problem = "route metadata " + ROUTE_METADATA_NAMESPACE + ".requirement_name must be a string";
        return;
      }
      out.requirementName = value;
    } else if (name == "disabled") {
      // One byte, 1 for true; anything else (a string "true", a number) is not jwt_authn's boolean.
      const value = fields[i].value;
      if (value.length != 1 || (value.charCodeAt(0) != 0 && value.charCodeAt(0) != 1)) {
        out.problem = "route metadata " + ROUTE_METADATA_NAMESPACE + ".disabled must be true or false";
        return;
      }
      out.disabled = value.charCodeAt(0) == 1;
    } else {
      out.problem = "route metadata " + ROUTE_METADATA_NAMESPACE + "." + name + " is not a known field (known: requirement_name, disabled)";
      return;
    }
  }
  if (!out.disabled && out.requirementName.length == 0) {
    out.problem = "route metadata " + ROUTE_METADATA_NAMESPACE + " must have requirement_name or disabled: true";
  }
}
