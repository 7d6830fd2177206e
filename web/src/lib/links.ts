/** Customer-supplied URLs and text reach the page only through these: a URL is used only if it is
 * http(s) (never `javascript:` or `data:`), and text is split into plain runs and links for Vue to
 * render as text nodes and anchors (never as HTML). */
export function safeUrl(value: unknown): string | null {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export interface TextRun {
  text: string;
  href: string | null;
}

const LINK = /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/g;

export function linkify(text: string): TextRun[] {
  const runs: TextRun[] = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    const index = match.index ?? 0;
    if (index > last) runs.push({ text: text.slice(last, index), href: null });
    runs.push({ text: match[0], href: safeUrl(match[0]) });
    last = index + match[0].length;
  }
  if (last < text.length) runs.push({ text: text.slice(last), href: null });
  return runs;
}

export function mapLink(latitude: unknown, longitude: unknown): string | null {
  const lat = Number(latitude);
  const lon = Number(longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
}
