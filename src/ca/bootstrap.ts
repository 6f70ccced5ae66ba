/**
 * Bringing the CA up when the service starts:
 * - authorities stored: load them (a development CA is refused in production);
 * - none stored, production: refuse to start, telling the operator to run `smimegw ca init`;
 * - none stored, development/test: create a development hierarchy and hand its public
 *   certificates and encrypted keys to `writeDevFiles` (the entry point writes certs-dev/).
 */
import { encodePem } from '../shared/bytes.js';
import { AppError } from '../shared/errors.js';
import type { Authority, InitResult } from './authority.js';

export interface DevCaFile {
  name: string;
  content: string;
  /** Private key material (encrypted, but still: mode 0600). */
  secret: boolean;
}

export interface StartAuthorityOptions {
  authority: Authority;
  passphrase: string;
  production: boolean;
  /** Writes the development CA files somewhere; returns where (for the log). */
  writeDevFiles?: (files: DevCaFile[]) => Promise<string>;
  log?: (level: 'info' | 'warn', message: string) => void;
}

export interface StartAuthorityResult {
  created: boolean;
  development: boolean;
  /** Where the development files went, when created. */
  devFilesLocation?: string;
}

/** The files of a new development hierarchy: certificates (PEM) and the encrypted keys. */
export function devCaFiles(r: InitResult): DevCaFile[] {
  const root = encodePem('CERTIFICATE', r.root.der);
  const issuing = encodePem('CERTIFICATE', r.issuing.der);
  return [
    { name: 'root.pem', content: root, secret: false },
    { name: 'issuing.pem', content: issuing, secret: false },
    { name: 'chain.pem', content: issuing + root, secret: false },
    { name: 'root.key.pem', content: r.rootKeyPem, secret: true },
    { name: 'issuing.key.pem', content: r.issuingKeyPem, secret: true },
  ];
}

export async function startAuthority(o: StartAuthorityOptions): Promise<StartAuthorityResult> {
  const log = o.log ?? (() => {});
  if (await o.authority.exists()) {
    await o.authority.load(o.passphrase);
    if (o.authority.development) log('warn', 'using the DEVELOPMENT certificate authority: its certificates are for testing only');
    return { created: false, development: o.authority.development };
  }
  if (o.production) {
    throw new AppError(
      'ca.not_initialized',
      'No certificate authority is set up. Run `smimegw ca init` once (same NODE_ENV, CA_KEY_PASSPHRASE and database as the service), then start again',
      { kind: 'temporary' },
    );
  }
  const r = await o.authority.init({ passphrase: o.passphrase, development: true });
  const location = o.writeDevFiles ? await o.writeDevFiles(devCaFiles(r)) : undefined;
  log('warn', `created a DEVELOPMENT certificate authority (${r.issuing.subject})${location ? `; its certificates and encrypted keys are in ${location}` : ''}`);
  return { created: true, development: true, ...(location ? { devFilesLocation: location } : {}) };
}
