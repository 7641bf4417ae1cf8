// Reading the project's Markdown for the docs tests: which files, their prose without code blocks,
// tables as cells, inline code, and the blocks between <!-- name:start --> and <!-- name:end -->.
import { readdirSync } from 'node:fs'

/** README.md and every page of docs/. */
export function docFiles(): string[] {
  const pages = readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .sort()
  return ['README.md', ...pages.map((f) => `docs/${f}`)]
}

/** The Markdown without its fenced code blocks (commands, diagrams and sample output are not prose). */
export function proseOf(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '')
}

/** The contents of every inline code span, whitespace collapsed (a span may wrap onto the next line). */
export function codeSpans(markdown: string): string[] {
  return [...markdown.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\s+/g, ' ').trim())
}

/** The text between `<!-- name:start …-->` and `<!-- name:end -->`, or undefined without the markers. */
export function markedBlock(markdown: string, name: string): string | undefined {
  const start = markdown.indexOf(`<!-- ${name}:start`)
  const end = markdown.indexOf(`<!-- ${name}:end -->`)
  if (start === -1 || end < start) return undefined
  return markdown.slice(markdown.indexOf('-->', start) + 3, end)
}

/** Each table row as its trimmed cells (header rows included, separator rows left out). */
export function tableRows(markdown: string): string[][] {
  return proseOf(markdown)
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|?\s*$/.test(line))
    .map((line) =>
      line
        .trim()
        .replace(/^\|/, '')
        .replace(/\|$/, '')
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    )
}
