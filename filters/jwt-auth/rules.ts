// Which rule applies to a request: the first whose match fits, as in jwt_authn's rules list. A match is a path
// prefix or an exact path (compared without the query string, like an Envoy route), plus header conditions
// (":method" included). No matching rule means the request is not checked.
import { HeaderMatcher, Rule } from "./config";
import { RequestView } from "./extract";

function startsWith(bytes: Uint8Array, prefix: Uint8Array): bool {
  return bytes.length >= prefix.length && memory.compare(bytes.dataStart, prefix.dataStart, <usize>prefix.length) == 0;
}

/** :path up to the query or fragment. */
function pathLength(path: Uint8Array): i32 {
  for (let i = 0; i < path.length; i++) {
    const c = unchecked(path[i]);
    if (c == 0x3f || c == 0x23) return i;
  }
  return path.length;
}

function pathMatches(rule: Rule, request: RequestView): bool {
  if (rule.matchesEverything()) return true;
  const path = request.path();
  if (path === null) return false;
  const prefix = rule.prefix;
  if (prefix !== null) return startsWith(path, prefix);
  const exact = rule.path!;
  return pathLength(path) == exact.length && startsWith(path, exact);
}

function headerMatches(matcher: HeaderMatcher, request: RequestView): bool {
  const raw = request.header(matcher.header);
  let matched: bool;
  if (matcher.present >= 0) {
    matched = (raw !== null) == (matcher.present == 1);
  } else if (raw === null) {
    matched = false;
  } else {
    const value = String.UTF8.decode(raw.slice().buffer);
    const exact = matcher.exact;
    const prefix = matcher.prefix;
    matched = exact !== null ? value == exact : prefix !== null ? value.startsWith(prefix) : false;
  }
  return matched != matcher.invert;
}

export function findRule(rules: Array<Rule>, request: RequestView): Rule | null {
  for (let i = 0; i < rules.length; i++) {
    const rule = unchecked(rules[i]);
    if (!pathMatches(rule, request)) continue;
    let all = true;
    for (let j = 0; j < rule.headers.length && all; j++) all = headerMatches(rule.headers[j], request);
    if (all) return rule;
  }
  return null;
}
