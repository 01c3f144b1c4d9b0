/**
 * Every relative link in README.md and docs/ leads somewhere: the file exists, and an anchor
 * names a heading of the page it points into (by GitHub's slug rules). Every docs/ page opens
 * with a short table of contents whose links are its own sections, and README.md stays short.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { anchors, githubSlug, headings, linkTargets, markdownFiles } from "../support/markdown.js";

/** The links of `file` that lead nowhere, each with what is wrong. */
function brokenLinks(file: string): string[] {
  const broken: string[] = [];
  for (const target of linkTargets(readFileSync(file, "utf8"))) {
    if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto: ...
    const [path = "", anchor] = target.split("#");
    const linked = path === "" ? file : normalize(join(dirname(file), decodeURI(path)));
    if (!existsSync(linked)) {
      broken.push(`${file}: ${target}: no file ${linked}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!linked.endsWith(".md")) {
      broken.push(`${file}: ${target}: an anchor into a file that is not Markdown`);
    } else if (!anchors(readFileSync(linked, "utf8")).has(anchor)) {
      broken.push(`${file}: ${target}: ${linked} has no heading with the anchor #${anchor}`);
    }
  }
  return broken;
}

describe("links in README.md and docs/", () => {
  it("follows GitHub's anchor rules", () => {
    expect(githubSlug("Rotating a secret, or after a leak")).toBe(
      "rotating-a-secret-or-after-a-leak",
    );
    expect(githubSlug("Scheduled renewal (`prewarm`)")).toBe("scheduled-renewal-prewarm");
    expect(githubSlug("Scopes: what each caller may ask for")).toBe(
      "scopes-what-each-caller-may-ask-for",
    );
    expect(githubSlug("From anything else (curl, botocore, ...)")).toBe(
      "from-anything-else-curl-botocore-",
    );
    expect([...anchors("# A\n## B\n```\n# not a heading\n```\n## B\n")]).toEqual(["a", "b", "b-1"]);
  });

  it("finds a broken link or anchor when there is one", () => {
    expect(linkTargets("[a](docs/nowhere.md) `[b](c.md)` [d](#e)")).toEqual([
      "docs/nowhere.md",
      "#e",
    ]);
  });

  it("keeps README.md a page read in minutes: at most 350 lines, the reference in docs/", () => {
    const lines = readFileSync("README.md", "utf8").split("\n").length;
    expect(lines).toBeLessThanOrEqual(350);
  });

  it.each(markdownFiles())("%s: every relative link and anchor resolves", (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });

  it.each(
    markdownFiles().filter((file) => file.startsWith("docs/") && file !== "docs/protocol.md"),
  )("%s opens with a table of contents that links to its own sections", (file) => {
    const text = readFileSync(file, "utf8");
    const sections = headings(text).filter((heading) => heading.level === 2);
    const contents = /^# .+\n\n(?:[^\n]*\n)*?((?:- \[[^\n]+\]\(#[^)]+\)\n)+)/m.exec(text)?.[1];
    const listed = [...(contents ?? "").matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(listed.length, `${file} has no table of contents`).toBeGreaterThan(0);
    expect(listed).toEqual(sections.map((heading) => githubSlug(heading.text)));
  });
});
