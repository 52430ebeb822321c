// A line diff for `apply`/`delete` output: unified format with 3 lines of context, computed with a longest common
// subsequence table (resources are small YAML documents, a few hundred lines at most).

/** Unified diff of two texts; empty when they are equal. */
export function unifiedDiff(before: string, after: string, fromLabel: string, toLabel: string, context = 3): string {
  const a = splitLines(before);
  const b = splitLines(after);
  const operations = diffLines(a, b);
  if (operations.every((operation) => operation.type === " ")) return "";
  const lines = [`--- ${fromLabel}`, `+++ ${toLabel}`];
  // Group changes whose context overlaps into hunks.
  const changed = operations.map((operation, index) => (operation.type === " " ? -1 : index)).filter((index) => index >= 0);
  let hunkStart = 0;
  while (hunkStart < changed.length) {
    let hunkEnd = hunkStart;
    while (hunkEnd + 1 < changed.length && changed[hunkEnd + 1]! - changed[hunkEnd]! <= 2 * context) hunkEnd++;
    const from = Math.max(0, changed[hunkStart]! - context);
    const to = Math.min(operations.length - 1, changed[hunkEnd]! + context);
    const slice = operations.slice(from, to + 1);
    const oldStart = slice[0]!.oldLine;
    const newStart = slice[0]!.newLine;
    const oldCount = slice.filter((operation) => operation.type !== "+").length;
    const newCount = slice.filter((operation) => operation.type !== "-").length;
    lines.push(`@@ -${oldCount === 0 ? oldStart - 1 : oldStart},${oldCount} +${newCount === 0 ? newStart - 1 : newStart},${newCount} @@`);
    for (const operation of slice) lines.push(`${operation.type}${operation.text}`);
    hunkStart = hunkEnd + 1;
  }
  return `${lines.join("\n")}\n`;
}

interface Operation {
  type: " " | "-" | "+";
  text: string;
  /** 1-based line in the old text where this operation sits (for hunk headers). */
  oldLine: number;
  newLine: number;
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  return text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
}

function diffLines(a: readonly string[], b: readonly string[]): Operation[] {
  // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const common: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i]![j] = a[i] === b[j] ? common[i + 1]![j + 1]! + 1 : Math.max(common[i + 1]![j]!, common[i]![j + 1]!);
    }
  }
  const operations: Operation[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      operations.push({ type: " ", text: a[i]!, oldLine: i + 1, newLine: j + 1 });
      i++; j++;
    } else if (i < a.length && (j >= b.length || common[i + 1]![j]! >= common[i]![j + 1]!)) {
      // Removals before additions, as diff(1) prints a replaced line.
      operations.push({ type: "-", text: a[i]!, oldLine: i + 1, newLine: j + 1 });
      i++;
    } else {
      operations.push({ type: "+", text: b[j]!, oldLine: i + 1, newLine: j + 1 });
      j++;
    }
  }
  return operations;
}
