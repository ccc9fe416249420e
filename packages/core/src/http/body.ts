import type { Dispatcher } from 'undici';

/**
 * Reads at most `maxBytes` of a response body as UTF-8 text (enough for an error message) and
 * discards the rest. Never throws: a body that fails mid-read gives what was read.
 */
export async function readBodyText(body: Dispatcher.ResponseData['body'], maxBytes = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const room = maxBytes - total;
      if (room > 0) {
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        chunks.push(part);
        total += part.length;
      }
      if (total >= maxBytes) break;
    }
  } catch {
    // A broken body only shortens the error text.
  }
  if (!body.destroyed) body.destroy();
  return Buffer.concat(chunks, total).toString('utf8');
}

/** Reads and discards a response body so the connection can be reused; never throws. */
export async function discardBody(body: Dispatcher.ResponseData['body']): Promise<void> {
  try {
    await body.dump();
  } catch {
    // The connection is closed instead of reused; nothing else to do.
  }
}
