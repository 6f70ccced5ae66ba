/** Certificate requests made with `openssl req`, good and bad, for the enrollment tests. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk } from '../helpers/exec.js';

export interface OpensslCsr {
  csrPem: string;
  keyPem: string;
}

/** `openssl req -new` for `address` (CN and subjectAltName email), key `rsa:BITS` or `ec`, digest. */
export async function opensslCsr(address: string, o: { key?: 'rsa:2048' | 'rsa:1024' | 'ec'; digest?: 'sha256' | 'sha1' } = {}): Promise<OpensslCsr> {
  const dir = await mkdtemp(join(tmpdir(), 'smimegw-csr-'));
  try {
    const key = join(dir, 'key.pem');
    const csr = join(dir, 'req.pem');
    const newkey = o.key === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', o.key ?? 'rsa:2048'];
    await runOk('openssl', [
      'req', '-new', ...newkey, '-nodes', '-keyout', key, '-out', csr,
      `-${o.digest ?? 'sha256'}`,
      '-subj', `/CN=${address}`,
      '-addext', `subjectAltName=email:${address}`,
    ]);
    return { csrPem: await readFile(csr, 'utf8'), keyPem: await readFile(key, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The same request with one bit of its signature flipped (PEM in, PEM out). */
export function tamperCsrSignature(csrPem: string): string {
  const b64 = csrPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(b64, 'base64');
  der[der.length - 5]! ^= 0x01; // inside the signature BIT STRING, the last element
  const lines = der.toString('base64').match(/.{1,64}/g)!;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}
