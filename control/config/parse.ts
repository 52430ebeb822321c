// YAML → documents that remember where they came from. Each document of a multi-document file keeps its first line
// in `source` ("mesh/ride.yaml:12") and a lookup from a field path to that field's line, so a validation error can
// point at the line of the offending field, not only at its resource.
import { LineCounter, isMap, isNode, isScalar, isSeq, parseAllDocuments, type Document, type Node, type Pair } from "yaml";

/** One problem: where (resource/field path), what, and the file and line it was read from when known. */
export interface Issue {
  /** `Kind/name/field[0].sub`, or a file-level description when the document could not be identified. */
  path: string;
  message: string;
  /** "file.yaml:12" or "etcd:/key". */
  source?: string;
}

export type FieldPath = readonly (string | number)[];

export interface SourcedDocument {
  /** Where the document starts: "file.yaml:12", "etcd:/key". */
  source: string;
  document: unknown;
  /** The source of one field of the document ("file.yaml:17"), when it can be located. */
  locate?(path: FieldPath): string | undefined;
}

/** The resource/field path as operators read it: `http[0].retries.perTryTimeout`. */
export function formatFieldPath(path: FieldPath): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) text += text === "" ? part : `.${part}`;
    else text += `[${JSON.stringify(part)}]`;
  }
  return text;
}

/** One line per issue, the way compilers print them: `file.yaml:12: VirtualService/ride/http[0]: message`. */
export function formatIssue(issue: Issue): string {
  return `${issue.source ? `${issue.source}: ` : ""}${issue.path}: ${issue.message}`;
}

/**
 * Parses every YAML document in `text`. Syntax errors are returned as issues (with line and column), never thrown;
 * a document with a syntax error is left out, the others are kept so their own errors can still be reported.
 */
export function parseYaml(text: string, source: string): { documents: SourcedDocument[]; errors: Issue[] } {
  const lineCounter = new LineCounter();
  const documents: SourcedDocument[] = [];
  const errors: Issue[] = [];
  let parsed: Document.Parsed[];
  try {
    parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    return { documents, errors: [{ path: source, message: `cannot parse YAML: ${(error as Error).message}`, source }] };
  }
  const lineOf = (offset: number) => lineCounter.linePos(offset).line;
  for (const doc of parsed) {
    const start = doc.contents?.range[0] ?? doc.range[0];
    const docSource = `${source}:${lineOf(start)}`;
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const position = lineCounter.linePos(error.pos[0]);
        const message = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
        errors.push({ path: `${source}:${position.line}:${position.col}`, message: `YAML syntax error: ${message}`, source: `${source}:${position.line}` });
      }
      continue;
    }
    // A `---` with nothing after it, or a file of comments only, is not a document.
    if (doc.contents === null) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      errors.push({ path: docSource, message: `cannot read YAML: ${(error as Error).message}`, source: docSource });
      continue;
    }
    if (value === null || value === undefined) continue;
    const root = doc.contents;
    documents.push({
      source: docSource,
      document: value,
      locate(path) {
        const node = nodeAt(root, path);
        return node?.range ? `${source}:${lineOf(node.range[0])}` : undefined;
      },
    });
  }
  return { documents, errors };
}

/** The deepest node along `path` (a missing field is reported at its parent's line). */
function nodeAt(root: Node | null, path: FieldPath): Node | undefined {
  let node: Node | null | undefined = root;
  let found: Node | undefined = root ?? undefined;
  for (const part of path) {
    if (isMap(node)) {
      const pair: Pair<unknown, unknown> | undefined = node.items.find((item: Pair<unknown, unknown>) => isScalar(item.key) && String(item.key.value) === String(part));
      if (!pair) break;
      const next: Node | undefined = isNode(pair.value) ? pair.value : isNode(pair.key) ? pair.key : undefined;
      node = next;
    } else if (isSeq(node) && typeof part === "number") {
      const item: unknown = node.items[part];
      node = isNode(item) ? item : undefined;
    } else {
      break;
    }
    if (!node) break;
    found = node;
  }
  return found;
}
