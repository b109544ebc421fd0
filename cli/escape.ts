/**
 * Text that came from a file or a design, made safe to print: every character a terminal would
 * act on (C0 and C1 controls, DEL, line and paragraph separators, bidirectional overrides) is shown
 * as an escape, so a design's name or a file's message can neither break a line, move the cursor,
 * retitle the window nor forge a line of the report.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching exactly the characters a terminal acts on
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const escapeChar = (c: string): string => {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** `s` with every terminal-active character escaped (`\n`, `\x1b`, `\u202e`): one line, nothing a terminal acts on. */
export const visible = (s: string): string =>
  s
    .replace(ACTIVE, escapeChar)
    // A lone surrogate cannot be encoded as UTF-8: show it too.
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, escapeChar);

/** Does `s` hold a character `visible` would escape? */
export const hasActive = (s: string): boolean => new RegExp(ACTIVE.source).test(s);

/** One printable line from anything thrown: its message (not its stack), escaped, at most `max` characters. */
export const errorLine = (e: unknown, max = 300): string => {
  let m: string;
  try {
    m = e instanceof Error ? e.message : typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e));
  } catch {
    m = Object.prototype.toString.call(e);
  }
  if (m.trim() === '') m = e instanceof Error ? e.name : 'an empty error';
  const line = visible(m.trim());
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};
