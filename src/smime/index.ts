export * from './algorithms.js';
export * from './recipient-check.js';
export { envelope, issuerAndSerial, type EnvelopeRecipient, type EnvelopeStream } from './envelope.js';
export { buildSignedData, defaultSignatureAlgorithm, SIGNATURE_ALGORITHMS, type SignatureAlgorithm, type SignerIdentity, type SignOptions } from './signed-data.js';
export { decryptContentInfo, type DecryptIdentity, type DecryptedContent } from './decrypt.js';
export { verifySignedData, type VerifyOptions, type VerifiedContent, type SignerReport } from './verify-cms.js';
export * from './message.js';
export { partsSource, collect, base64Lines, type ByteSource } from './stream.js';
