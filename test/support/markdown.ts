/**
 * Reading the repository's Markdown as GitHub renders it: headings and their anchors (GitHub's
 * slug rules), relative links, and marked code blocks, across README.md and docs/.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** README.md and every page under docs/, as paths relative to the repository. */
export function markdownFiles(): string[] {
  const docs = readdirSync("docs")
    .filter((file) => file.endsWith(".md"))
    .sort()
    .map((file) => join("docs", file));
  return ["README.md", ...docs];
}

/** The file's lines outside fenced code blocks (fences and their contents become empty lines). */
function proseLines(text: string): string[] {
  let fence: string | undefined;
  return text.split("\n").map((line) => {
    const opening = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (opening && opening[0] === fence[0] && opening.length >= fence.length) fence = undefined;
      return "";
    }
    if (opening) {
      fence = opening;
      return "";
    }
    return line;
  });
}

/** GitHub's anchor for a heading's text (github-slugger): lower case, punctuation dropped, spaces to `-`. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link's text only
    .replace(/<[^>]+>/g, "");
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The headings of a Markdown text, in order, outside code blocks. */
export function headings(text: string): { level: number; text: string }[] {
  return proseLines(text).flatMap((line) => {
    const match = /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
    return match ? [{ level: match[1]?.length ?? 0, text: match[2] ?? "" }] : [];
  });
}

/** Every anchor a Markdown text defines: one per heading, repeats numbered as GitHub numbers them. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const heading of headings(text)) {
    const slug = githubSlug(heading.text);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** The targets of the Markdown links in a text, outside code blocks and inline code. */
export function linkTargets(text: string): string[] {
  const prose = proseLines(text)
    .join("\n")
    .replace(/`[^`\n]*`/g, "``");
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1] ?? "");
}

/**
 * The code block after `<!-- KIND: NAME -->` in README.md or a docs/ page: exactly one of them
 * must hold the marker.
 */
export function markedBlock(kind: string, name: string): { file: string; code: string } {
  const marker = `<!-- ${kind}: ${name} -->\n`;
  const found = markdownFiles().filter((file) => readFileSync(file, "utf8").includes(marker));
  if (found.length !== 1) {
    throw new Error(`${kind} ${name}: found in ${found.length} files (${found.join(", ")})`);
  }
  const file = found[0] ?? "";
  const text = readFileSync(file, "utf8");
  const block = /^```[\w-]*\n([\s\S]*?)^```$/m.exec(
    text.slice(text.indexOf(marker) + marker.length),
  );
  if (!block?.[1]) throw new Error(`${kind} ${name} in ${file} is not followed by a code block`);
  return { file, code: block[1] };
}

/** The text of one section of a page: from its heading to the next heading of its level or above. */
export function section(file: string, heading: string): string {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const prose = proseLines(text);
  const start = prose.findIndex(
    (line) => /^#{1,6} /.test(line) && line.replace(/^#+ /, "") === heading,
  );
  if (start < 0) throw new Error(`${file} has no heading "${heading}"`);
  const level = /^#+/.exec(lines[start] ?? "")?.[0].length ?? 1;
  const end = prose.findIndex(
    (line, index) => index > start && new RegExp(`^#{1,${level}} `).test(line),
  );
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** README.md and every docs/ page, joined: for facts that must hold wherever they are stated. */
export function allDocs(): string {
  return markdownFiles()
    .map((file) => readFileSync(file, "utf8"))
    .join("\n");
}
