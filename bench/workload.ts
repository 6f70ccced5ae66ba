/**
 * What one benchmark iteration does, shared by the per-cell and the paired child processes: the
 * message, the recipient and signer, and a fresh output stream per method.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encryptMessageStream, signAndEncryptMessageStream, base64Lines, type EncryptRecipient } from '../src/smime/index.js';
import { SLICE } from '../src/smime/stream.js';
import type { SignerIdentity } from '../src/smime/signed-data.js';
import { readCertificates } from '../src/pki/certificate.js';
import { readPrivateKey } from '../src/pki/keys.js';

export type InProcessMethod = 'raw' | 'encrypt' | 'sign-encrypt';

export interface WorkloadPaths {
  messagePath: string;
  recipientCert: string;
  signerCert: string;
  signerKey: string;
  caCert: string;
}

export interface Workload {
  message: Uint8Array;
  stream(method: InProcessMethod): AsyncIterable<Uint8Array>;
}

/** The raw limit: AES-256-CBC over the same body in the engine's slice size, then the engine's base64 line encoder. */
async function* rawCipher(message: Uint8Array): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-256-cbc', randomBytes(32), randomBytes(16));
  for (let i = 0; i < message.length; i += SLICE) {
    const out = cipher.update(message.subarray(i, Math.min(message.length, i + SLICE)));
    if (out.length) yield out;
  }
  yield cipher.final();
}

export function loadWorkload(p: WorkloadPaths): Workload {
  const message = new Uint8Array(readFileSync(p.messagePath));
  const recipients: EncryptRecipient[] = [{ certificate: readCertificates(readFileSync(p.recipientCert), p.recipientCert)[0]! }];
  const signer: SignerIdentity = {
    certificate: readCertificates(readFileSync(p.signerCert), p.signerCert)[0]!,
    key: readPrivateKey(readFileSync(p.signerKey), undefined, p.signerKey),
    chain: readCertificates(readFileSync(p.caCert), p.caCert),
  };
  return {
    message,
    stream(method) {
      switch (method) {
        case 'raw':
          return base64Lines(rawCipher(message));
        case 'encrypt':
          return encryptMessageStream(message, recipients);
        case 'sign-encrypt':
          return signAndEncryptMessageStream(message, signer, recipients);
      }
    },
  };
}

/** Consumes a stream into a discarding sink; returns the byte count. */
export async function drain(chunks: AsyncIterable<Uint8Array>, onChunk?: () => void): Promise<number> {
  let n = 0;
  for await (const c of chunks) {
    n += c.length;
    if (onChunk) onChunk();
  }
  return n;
}
