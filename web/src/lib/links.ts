/** Customer-supplied URLs and text reach the page only through these: a URL is used only if it is
 * http(s) (never `javascript:` or `data:`), and text is split into plain runs and links for Vue to
 * render as text nodes and anchors (never as HTML). Explicit bidi controls (lib/bidi.ts) never
 * survive inside a URL: hrefs drop them, link text shows them as ⟦U+202E⟧ markers. */
import { showBidiControls, stripBidiControls } from "./bidi";

/** The page's own address (absent where there is no page, as in unit tests). */
function pageUrl(): string | undefined {
  return typeof window === "undefined" ? undefined : window.location.href;
}

export function safeUrl(value: unknown): string | null {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(stripBidiControls(value), pageUrl());
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** The host (and port, if any) a URL points at, as the browser will contact it: IDN hosts in
 * their punycode form, so look-alike letters cannot pose as another host. */
export function hostOf(value: unknown): string {
  const href = safeUrl(value);
  return href ? new URL(href).host : "";
}

/** Origins whose media the dashboard may load without asking: only its own. Customer and provider
 * URLs (Messenger attachments, Twilio MediaUrl, stickers, stories) are click-to-load, so a
 * customer cannot make every agent's browser fetch an address of their choosing. */
export function isTrustedMedia(value: unknown): boolean {
  const href = safeUrl(value);
  if (!href || typeof window === "undefined") return false;
  return new URL(href).origin === window.location.origin;
}

export interface TextRun {
  text: string;
  /** The link's target, when the run is a usable http(s) URL. */
  href: string | null;
  /** Whether the run looked like a URL (rendered left-to-right and isolated even without an href). */
  url: boolean;
}

const LINK = /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/g;

export function linkify(text: string): TextRun[] {
  const runs: TextRun[] = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    const index = match.index ?? 0;
    if (index > last) runs.push({ text: text.slice(last, index), href: null, url: false });
    runs.push({ text: showBidiControls(match[0]), href: safeUrl(match[0]), url: true });
    last = index + match[0].length;
  }
  if (last < text.length) runs.push({ text: text.slice(last), href: null, url: false });
  return runs;
}

/** Text shown without links (inbox previews, quotes): the same text, URLs' bidi controls shown. */
export function previewText(text: string): string {
  return linkify(text)
    .map((run) => run.text)
    .join("");
}

export function mapLink(latitude: unknown, longitude: unknown): string | null {
  const lat = Number(latitude);
  const lon = Number(longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
}
