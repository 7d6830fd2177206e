import { describe, expect, it } from "vitest";

import { bidiMarker, displayName, hasBidiControls, showBidiControls, stripBidiControls } from "./bidi";
import { hostOf, linkify, previewText, safeUrl } from "./links";

const RLO = "\u202E";
const CONTROLS = ["\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069", "\u200E", "\u200F", "\u061C"];
const ANY_CONTROL = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/;

describe("bidi controls", () => {
  it("knows every explicit control, and nothing else", () => {
    for (const control of CONTROLS) expect(hasBidiControls(`a${control}b`)).toBe(true);
    expect(hasBidiControls("plain text, שלום, مرحبا, 😀")).toBe(false);
    expect(hasBidiControls("zero\u200Bwidth")).toBe(false);
  });

  it("strips them", () => {
    expect(stripBidiControls(`x${CONTROLS.join("")}y`)).toBe("xy");
    expect(stripBidiControls("שלום")).toBe("שלום");
  });

  it("shows them as visible markers", () => {
    expect(bidiMarker(RLO)).toBe("⟦U+202E⟧");
    expect(bidiMarker("\u061C")).toBe("⟦U+061C⟧");
    expect(showBidiControls(`Kerry${RLO}rehsiF`)).toBe("Kerry⟦U+202E⟧rehsiF");
    expect(showBidiControls(CONTROLS.join(""))).not.toMatch(ANY_CONTROL);
  });

  it("renders names as strings with their controls shown", () => {
    expect(displayName(`invoice${RLO}fdp.exe`)).toBe("invoice⟦U+202E⟧fdp.exe");
    expect(displayName(null)).toBe("");
    expect(displayName(42)).toBe("42");
  });
});

describe("links", () => {
  it("shows the controls in a URL's text and drops them from its href", () => {
    const runs = linkify(`pay https://bank.example/${RLO}gpj.exe now`);
    expect(runs).toEqual([
      { text: "pay ", href: null, url: false },
      { text: "https://bank.example/⟦U+202E⟧gpj.exe", href: "https://bank.example/gpj.exe", url: true },
      { text: " now", href: null, url: false },
    ]);
  });

  it("keeps controls in plain text (right-to-left writers use marks), isolated by the component", () => {
    expect(linkify(`שלום\u200F!`)).toEqual([{ text: "שלום\u200F!", href: null, url: false }]);
  });

  it("never lets a control into an href", () => {
    for (const control of CONTROLS) {
      const [run] = linkify(`https://exa${control}mple.com/a${control}b`);
      expect(run.url).toBe(true);
      expect(run.text).not.toMatch(ANY_CONTROL);
      if (run.href) expect(run.href).not.toMatch(ANY_CONTROL);
    }
    expect(safeUrl(`https://bank.example/${RLO}gpj.exe`)).toBe("https://bank.example/gpj.exe");
  });

  it("accepts only http(s)", () => {
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl(`java${RLO}script:alert(1)`)).toBeNull();
    expect(safeUrl("data:text/html,hi")).toBeNull();
    expect(safeUrl(null)).toBeNull();
    expect(linkify("see javascript:alert(1)")).toEqual([{ text: "see javascript:alert(1)", href: null, url: false }]);
  });

  it("shows URL controls in previews", () => {
    expect(previewText(`pay https://bank.example/${RLO}gpj.exe`)).toBe("pay https://bank.example/⟦U+202E⟧gpj.exe");
  });

  it("names the real host, look-alike letters in punycode", () => {
    expect(hostOf("https://scontent.xx.fbcdn.net/v/t1/abc.jpg?x=1")).toBe("scontent.xx.fbcdn.net");
    expect(hostOf("http://127.0.0.1:8123/pic.png")).toBe("127.0.0.1:8123");
    expect(hostOf("https://pаypal.example/")).toBe("xn--pypal-4ve.example");
    expect(hostOf("ftp://x.example/")).toBe("");
  });
});
