/**
 * Files a Markdown document points to: its relative links, and every `*.md` path it names in
 * its text. A reader who follows one expects the file to be in the repository (the README once
 * cited a DESIGN.md that never was).
 */
import { posix } from 'node:path';

export interface DocRef {
  /** 1-based line of the document. */
  line: number;
  /** As written (a link's target without its #fragment or ?query). */
  target: string;
  /** A link resolves against the document's folder only; a named path also against the root. */
  kind: 'link' | 'named';
}

/** `[text](target)` and `![alt](target "title")`; the target ends at a space or `)`. */
const INLINE_LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
/** `[label]: target` at the start of a line. */
const REFERENCE_LINK = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/;
/**
 * A path ending in `.md`: letters, digits and `._/-`, not inside a longer word or path, nor
 * after a placeholder or glob (`<time>-full.md`, `*.md`: a pattern, not a file).
 */
const NAMED_MD = /(?<![\w./*>}-])((?:\.{1,2}\/)?[\w.-][\w./-]*\.md)(?![\w/-]|\.\w)/g;
/** Anything with a scheme (`https:`, `mailto:`) or a bare host (`//host`) is not a file here. */
const EXTERNAL = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi;

function linkTarget(raw: string): string | undefined {
  if (EXTERNAL.test(raw) || raw.startsWith('#')) return undefined;
  const path = raw.replace(/[?#].*$/, '');
  return path === '' ? undefined : decodeURIComponent(path);
}

/** Every file reference in `text`, in document order. */
export function docRefs(text: string): DocRef[] {
  const out: DocRef[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    const n = i + 1;
    const ref = REFERENCE_LINK.exec(line);
    const targets = [...line.matchAll(INLINE_LINK)].map((m) => m[1] as string);
    if (ref) targets.push(ref[1] as string);
    for (const raw of targets) {
      const target = linkTarget(raw);
      if (target !== undefined) out.push({ line: n, target, kind: 'link' });
    }
    // Named paths: in the text left without link targets (checked above) and URLs.
    const text = ref ? '' : line.replace(INLINE_LINK, (m) => m.slice(0, m.lastIndexOf('](') + 1));
    for (const m of text.replace(URL_IN_TEXT, ' ').matchAll(NAMED_MD)) {
      out.push({ line: n, target: m[1] as string, kind: 'named' });
    }
  }
  return out;
}

/** What the repository holds, for {@link brokenRefs}. */
export interface Tree {
  /** A file or folder at this path from the root (`''`: the root). */
  exists(pathFromRoot: string): boolean;
  /** Some file of the repository has this name (a report named without its folder). */
  hasFileNamed(name: string): boolean;
}

/**
 * The references of `doc` (a path from the repository root, with `/`) that name no file or
 * folder of `tree`. A link resolves against the document's folder (a leading `/` against the
 * root), as GitHub does. A named path may be written from either; a bare file name (no `/`)
 * may also name a file elsewhere, as the README names benchmark reports by their file name.
 */
export function brokenRefs(doc: string, text: string, tree: Tree): DocRef[] {
  const dir = posix.dirname(doc);
  const inTree = (p: string): boolean => {
    const norm = posix.normalize(p);
    return !norm.startsWith('../') && norm !== '..' && tree.exists(norm === '.' ? '' : norm);
  };
  return docRefs(text).filter((r) => {
    if (r.target.startsWith('/')) return !inTree(r.target.slice(1));
    const fromDoc = inTree(posix.join(dir, r.target));
    if (r.kind === 'link' || fromDoc) return !fromDoc;
    if (inTree(r.target)) return false;
    return r.target.includes('/') || !tree.hasFileNamed(r.target);
  });
}
