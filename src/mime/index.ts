/**
 * The MIME layer the S/MIME engine builds on. Runtime-agnostic (Uint8Array, TextEncoder/Decoder,
 * crypto.getRandomValues only). Every failure is an AppError with a 'mime.*' code.
 */
export {
  type HeaderField,
  type SplitMessage,
  splitMessage,
  getHeader,
  getHeaders,
  isContentHeader,
} from './split.js';
export {
  type ContentType,
  type ParameterizedValue,
  parseContentType,
  parseParameterizedValue,
  formatParameterizedValue,
  formatContentType,
} from './params.js';
export { type BuildHeaderOptions, buildHeaderField, decodeEncodedWords } from './header.js';
export { canonicalizeEntity, MAX_MIME_DEPTH } from './canonicalize.js';
export { type MultipartBody, splitMultipart, newBoundary, BOUNDARY_PREFIX } from './multipart.js';
export { toCRLF, scanBody, type BodyScan } from './eol.js';
export { markDataSafe, dataSafeFrom } from './data-safe.js';
export {
  encodeBase64Lines,
  encodeQuotedPrintable,
  decodeTransfer,
  decodeBase64Bytes,
  decodeQuotedPrintableBytes,
  normalizeEncoding,
} from './transfer.js';
export { decodeCharset, isCharsetSupported } from './charset.js';
