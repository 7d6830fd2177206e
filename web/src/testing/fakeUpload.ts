/** A stand-in for XMLHttpRequest, which lib/media.ts uses to upload straight to storage (fetch has
 * no upload progress). Each request is recorded; `respond` decides the answer, by default the
 * storage emulator's: POST (start a resumable upload) -> 201 with a session Location, PUT (the
 * file) -> progress in two steps, then 200. Install with vi.stubGlobal("XMLHttpRequest", FakeXhr). */
export interface XhrCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  xhr: FakeXhr;
}

type Responder = (call: XhrCall) => void;

export const xhrCalls: XhrCall[] = [];

export function storageResponder(call: XhrCall): void {
  if (call.method === "POST") {
    call.xhr.answer(201, { Location: `${call.url.split("?")[0]}?upload_id=session-1` });
    return;
  }
  const size = call.body instanceof Blob ? call.body.size : 0;
  call.xhr.progress(Math.floor(size / 2), size);
  call.xhr.progress(size, size);
  call.xhr.answer(200);
}

let responder: Responder = storageResponder;

export function respondWith(next: Responder | null): void {
  responder = next ?? storageResponder;
}

export function resetXhr(): void {
  xhrCalls.length = 0;
  responder = storageResponder;
}

export class FakeXhr {
  status = 0;
  upload: { onprogress: ((event: { loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  private method = "";
  private url = "";
  private headers: Record<string, string> = {};
  private responseHeaders: Record<string, string> = {};
  private done = false;

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  getResponseHeader(name: string): string | null {
    return this.responseHeaders[name] ?? null;
  }

  send(body: unknown): void {
    const call = { method: this.method, url: this.url, headers: { ...this.headers }, body, xhr: this };
    xhrCalls.push(call);
    queueMicrotask(() => responder(call));
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.onabort?.();
  }

  progress(loaded: number, total: number): void {
    if (!this.done) this.upload.onprogress?.({ loaded, total });
  }

  answer(status: number, headers: Record<string, string> = {}): void {
    if (this.done) return;
    this.done = true;
    this.status = status;
    this.responseHeaders = headers;
    this.onload?.();
  }

  fail(): void {
    if (this.done) return;
    this.done = true;
    this.onerror?.();
  }

  /** Never answers: the test answers (or aborts) itself. */
  hold(): void {}
}
