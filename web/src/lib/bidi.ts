/** Bidirectional-text spoofing: customer-supplied text can carry explicit bidi controls that make
 * `https://bank.example/\u202Egpj.exe` read as `https://bank.example/exe.jpg`. Components isolate every
 * customer-supplied run (`<bdi>`, so nothing leaks into the text around it), and inside URLs and
 * names, where the order of characters is the meaning, the controls are made visible (link text,
 * names, file names: ⟦U+202E⟧) or removed (hrefs). Plain message text keeps them: right-to-left
 * writers use marks legitimately, and the isolation keeps their effect inside the message. */

/** Explicit bidi formatting characters: LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, ALM. */
const BIDI_CONTROL_CLASS = "\\u202A-\\u202E\\u2066-\\u2069\\u200E\\u200F\\u061C";
const BIDI_CONTROLS = new RegExp(`[${BIDI_CONTROL_CLASS}]`, "g");

export function hasBidiControls(text: string): boolean {
  return new RegExp(`[${BIDI_CONTROL_CLASS}]`).test(text);
}

/** The text without any explicit bidi control (for hrefs and other machine-read values). */
export function stripBidiControls(text: string): string {
  return text.replace(BIDI_CONTROLS, "");
}

/** The visible marker that stands in for one control: ⟦U+202E⟧. */
export function bidiMarker(control: string): string {
  return `⟦U+${control.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}⟧`;
}

/** The text with every explicit bidi control replaced by its visible marker (for URLs shown as
 * text, names and file names: the agent sees the characters in their real order, and that
 * something tried to reorder them). */
export function showBidiControls(text: string): string {
  return text.replace(BIDI_CONTROLS, bidiMarker);
}

/** A customer-supplied name (contact, file, location, shared contact) ready to render inside a
 * `<bdi>`: a string, controls shown. */
export function displayName(value: unknown): string {
  return value == null ? "" : showBidiControls(String(value));
}
