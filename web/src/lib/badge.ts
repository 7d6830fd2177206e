/** What tells an agent something new happened while they look elsewhere: the tab's title, a badge
 * on the favicon and a short sound. */

/** The tab's title: unread notifications first (🔔n), then conversations with unread messages. */
export function tabTitle(unreadConversations: number, unreadNotifications: number): string {
  const bell = unreadNotifications ? `🔔${unreadNotifications > 99 ? "99+" : unreadNotifications} ` : "";
  const count = unreadConversations ? `(${unreadConversations}) ` : "";
  return `${bell}${count}Switchboard`;
}

let original: string | null = null;

/** The favicon with a red badge counting `count` (the plain favicon at 0). Drawn on a canvas from the
 * page's own icon; the link's href becomes a PNG data URL. Returns the href set. */
export async function setFaviconBadge(count: number, doc: Document = document): Promise<string | null> {
  let link = doc.querySelector<HTMLLinkElement>("link[rel~='icon']");
  if (!link) {
    link = doc.createElement("link");
    link.rel = "icon";
    link.href = "/favicon.svg";
    doc.head.appendChild(link);
  }
  original ??= link.getAttribute("href") ?? "/favicon.svg";
  if (count <= 0) {
    link.href = original;
    link.type = "image/svg+xml";
    link.dataset.badge = "0";
    return link.href;
  }
  const canvas = doc.createElement("canvas");
  canvas.width = canvas.height = 64;
  const context = canvas.getContext("2d");
  if (!context) return null;
  try {
    const image = new Image();
    image.src = original;
    await image.decode();
    context.drawImage(image, 0, 0, 64, 64);
  } catch {
    context.fillStyle = "#4f46e5";
    context.fillRect(0, 0, 64, 64);
  }
  context.fillStyle = "#dc2626";
  context.beginPath();
  context.arc(44, 20, 20, 0, 2 * Math.PI);
  context.fill();
  context.fillStyle = "#ffffff";
  context.font = "bold 26px sans-serif";
  context.textAlign = "center";
  context.textBaseline = "middle";
  context.fillText(count > 9 ? "9+" : String(count), 44, 21);
  link.href = canvas.toDataURL("image/png");
  link.type = "image/png";
  link.dataset.badge = String(count);
  return link.href;
}

let audio: AudioContext | null = null;

/** A short two-tone chime (Web Audio: no file to load). Silently nothing where the browser does not
 * allow sound before a user gesture. */
export function chime(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    for (const [index, frequency] of [880, 1320].entries()) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + index * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.15, now + index * 0.12 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + index * 0.12 + 0.25);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(now + index * 0.12);
      oscillator.stop(now + index * 0.12 + 0.3);
    }
  } catch {
    // no audio here (tests, a browser without Web Audio)
  }
}
