/** Charset decoding through TextDecoder. Runtime-agnostic. */
import { latin1 } from '../shared/bytes.js';

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(charset: string): TextDecoder | null {
  const key = charset.trim().toLowerCase();
  let d = decoders.get(key);
  if (d === undefined) {
    try {
      // us-ascii is latin1 in the WHATWG table; utf-8 is the useful reading of "ascii" bytes > 127
      d = new TextDecoder(key === 'us-ascii' || key === 'ascii' ? 'utf-8' : key, { fatal: false });
    } catch {
      d = null;
    }
    decoders.set(key, d);
  }
  return d;
}

/** Whether this runtime's TextDecoder knows `charset`. */
export function isCharsetSupported(charset: string): boolean {
  return decoderFor(charset) !== null;
}

/**
 * Decodes bytes in `charset` (empty -> utf-8). Returns undefined when the runtime's TextDecoder does
 * not support the charset.
 */
export function decodeCharset(bytes: Uint8Array, charset: string): string | undefined {
  const d = decoderFor(charset === '' ? 'utf-8' : charset);
  return d ? d.decode(bytes) : undefined;
}

/** Decodes as `charset`, falling back to latin1 (byte per char) when unsupported. */
export function decodeCharsetOrLatin1(bytes: Uint8Array, charset: string): string {
  return decodeCharset(bytes, charset) ?? latin1(bytes);
}

const strictDecoders = new Map<string, TextDecoder | null>();

/**
 * Decodes strictly: undefined if the charset is unsupported or the bytes are not valid in it.
 */
export function tryDecodeCharset(bytes: Uint8Array, charset: string): string | undefined {
  const key = charset.trim().toLowerCase() || 'utf-8';
  let d = strictDecoders.get(key);
  if (d === undefined) {
    try {
      d = new TextDecoder(key === 'us-ascii' || key === 'ascii' ? 'utf-8' : key, { fatal: true });
    } catch {
      d = null;
    }
    strictDecoders.set(key, d);
  }
  if (!d) return undefined;
  try {
    return d.decode(bytes);
  } catch {
    return undefined;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes strictly as UTF-8; undefined if the bytes are not valid UTF-8. */
export function tryUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
