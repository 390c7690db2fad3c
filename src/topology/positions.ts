/**
 * @module topology/positions
 * Field path → line and column for block-style YAML, so a problem is reported as
 * `file:line:col` with its path (the column of the key, or of the `-` of a list item).
 * It follows indentation and `- ` list items line by line (flow-style `{…}` values map to the line
 * of their key). Documents are split on `---` lines, as js-yaml splits them.
 */

/** One document of a stream: its first line (1-based) and its field lines. */
export interface DocPositions {
  readonly startLine: number;
  /** `spec.ports[0].port` → 1-based line. */
  readonly lines: ReadonlyMap<string, number>;
  /** The same paths → 1-based column. */
  readonly cols?: ReadonlyMap<string, number>;
}

/** Splits a stream into documents and indexes each. */
export function indexDocuments(text: string): DocPositions[] {
  const lines = text.split(/\r?\n/);
  const docs: DocPositions[] = [];
  let start = 0;
  const flush = (end: number): void => {
    const body = lines.slice(start, end);
    if (body.some((l) => l.trim() !== "" && !l.trim().startsWith("#"))) {
      const cols = new Map<string, number>();
      docs.push({ startLine: start + 1, lines: indexBlock(body, start, cols), cols });
    }
  };
  for (let i = 0; i < lines.length; i += 1) {
    if (/^---(\s|$)/.test(lines[i] as string)) {
      flush(i);
      start = i + 1;
    }
  }
  flush(lines.length);
  return docs;
}

interface Frame {
  readonly indent: number;
  readonly path: string;
  /** For sequences: the next index. */
  seq: number;
}

function indexBlock(lines: readonly string[], offset: number, cols: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  const stack: Frame[] = [{ indent: -1, path: "", seq: 0 }];
  for (let i = 0; i < lines.length; i += 1) {
    let line = lines[i] as string;
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    let indent = line.length - line.trimStart().length;
    // Sequence items open a frame whose path is parent[index].
    while (/^\s*- /.test(line) || /^\s*-$/.test(line)) {
      while (stack.length > 1 && (stack.at(-1) as Frame).indent > indent) stack.pop();
      let parent = stack.at(-1) as Frame;
      if (parent.indent === indent && parent.path.endsWith("]")) {
        stack.pop();
        parent = stack.at(-1) as Frame;
      }
      const idx = parent.seq;
      parent.seq += 1;
      const path = `${parent.path}[${idx}]`;
      out.set(path, offset + i + 1);
      cols.set(path, indent + 1);
      stack.push({ indent, path, seq: 0 });
      const rest = line.replace(/^(\s*)- ?/, (_m, sp: string) => `${sp}  `);
      if (rest.trim() === "") {
        line = "";
        break;
      }
      line = rest;
      indent = line.length - line.trimStart().length;
    }
    if (line.trim() === "") continue;
    const m = /^(\s*)("[^"]*"|'[^']*'|[^\s:#][^:#]*?)\s*:(\s|$)/.exec(line);
    if (!m) continue;
    while (stack.length > 1 && (stack.at(-1) as Frame).indent >= indent) stack.pop();
    const parent = stack.at(-1) as Frame;
    const key = (m[2] as string).replace(/^["']|["']$/g, "");
    const path = parent.path ? `${parent.path}.${key}` : key;
    out.set(path, offset + i + 1);
    cols.set(path, indent + 1);
    stack.push({ indent, path, seq: 0 });
  }
  return out;
}

/** The line of `path` or of its nearest indexed ancestor, else the document's first line. */
export function lineOf(doc: DocPositions, path: string): number {
  return posOf(doc, path).line;
}

/** Line and column of `path` or of its nearest indexed ancestor (the document's start: column 1). */
export function posOf(doc: DocPositions, path: string): { line: number; col: number } {
  let p = path;
  for (;;) {
    const l = doc.lines.get(p);
    if (l !== undefined) return { line: l, col: doc.cols?.get(p) ?? 1 };
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) return { line: doc.startLine, col: 1 };
    p = p.slice(0, cut);
  }
}
