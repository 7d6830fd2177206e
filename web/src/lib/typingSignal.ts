/** The browser's half of "the agent is typing" (issue 17, part 7): keystrokes in a conversation's
 * composer call `typed(conversationId)`; at most one call to `send` per conversation every
 * `intervalMs` goes out, fire-and-forget (the server throttles too: one provider signal per
 * conversation every 5 s, dropped when stale). A failure is ignored: a typing signal is never
 * worth an error on screen or a retry. */
export function createTypingSignal(
  send: (conversationId: string) => Promise<unknown>,
  intervalMs = 4_000,
  now: () => number = Date.now,
): (conversationId: string) => void {
  const last = new Map<string, number>();
  return (conversationId: string) => {
    const at = now();
    const previous = last.get(conversationId);
    if (previous !== undefined && at - previous < intervalMs) return;
    last.set(conversationId, at);
    void send(conversationId).catch(() => undefined);
  };
}
