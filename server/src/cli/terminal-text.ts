// What the operator CLI may write to a terminal. Much of what it prints was written by
// tenants (a cutover's customer note, a failed job's error and stderr): printed raw, an
// escape sequence in it would act on the operator's terminal — clear the screen and draw a
// forged row, write the clipboard (OSC 52), reorder a line with bidi overrides. So the CLI
// writes only TerminalText, and the only ways to make one escape every value put into it.

/**
 * C0 controls (ESC, BEL, backspace, CR, LF, tab...), DEL, C1 controls (CSI 0x9b, OSC 0x9d...),
 * bidi embeddings, overrides, isolates and marks, and the Unicode line/paragraph separators.
 */
// eslint-disable-next-line no-control-regex -- escaping control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same less the C0 controls, which JSON.stringify escapes itself (its own newlines are layout). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** A value as one visible line: every unsafe character shown as \n, \r, \t, \xNN or \uNNNN. */
export function visible(value: unknown): string {
  return String(value).replace(UNSAFE, (ch) => {
    if (NAMED[ch]) return NAMED[ch];
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

const minted = Symbol("terminal-text");

/** Text that is safe to write to the operator's terminal. */
export class TerminalText {
  readonly text: string;
  constructor(text: string, token: symbol) {
    if (token !== minted) throw new Error("TerminalText is made by line(), row() or json() only");
    this.text = text;
  }
}

/**
 * A template whose literal parts are the CLI's own text (newlines allowed) and whose every
 * interpolated value is escaped by visible(), unless it is TerminalText already.
 */
export function line(strings: TemplateStringsArray, ...values: unknown[]): TerminalText {
  let text = strings[0];
  values.forEach((v, i) => {
    text += (v instanceof TerminalText ? v.text : visible(v)) + strings[i + 1];
  });
  return new TerminalText(text, minted);
}

/** Tab-separated cells; a tab or newline inside a cell is escaped, so no cell can add a column or a row. */
export function row(...cells: unknown[]): TerminalText {
  return new TerminalText(cells.map((c) => visible(c ?? "")).join("\t"), minted);
}

/**
 * Pretty JSON. JSON.stringify escapes C0 controls but leaves DEL, C1 controls and bidi
 * characters raw; those appear only inside strings, so a \u escape keeps the same value.
 */
export function json(value: unknown): TerminalText {
  const text = JSON.stringify(value, null, 2).replace(UNSAFE_IN_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return new TerminalText(text, minted);
}
