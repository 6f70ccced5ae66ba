/**
 * Throw-away benchmark PKI made with the openssl CLI: a root CA and two RSA-2048 S/MIME
 * end-entity certificates (recipient and signer), CN = the mailbox, SAN rfc822Name, keyUsage
 * digitalSignature+keyEncipherment, extendedKeyUsage emailProtection. argv arrays only, no shell.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BenchIdentity {
  email: string;
  certPath: string;
  keyPath: string;
}

export interface BenchPki {
  caCertPath: string;
  recipient: BenchIdentity;
  signer: BenchIdentity;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

async function issue(dir: string, name: string, email: string, caCert: string, caKey: string): Promise<BenchIdentity> {
  const keyPath = join(dir, `${name}.key.pem`);
  const csrPath = join(dir, `${name}.csr.pem`);
  const certPath = join(dir, `${name}.cert.pem`);
  const extPath = join(dir, `${name}.ext.cnf`);
  await writeFile(
    extPath,
    [
      '[v3]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = emailProtection',
      `subjectAltName = email:${email}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${email}`]);
  await openssl([
    'x509', '-req', '-in', csrPath, '-CA', caCert, '-CAkey', caKey,
    '-set_serial', '0x' + randomBytes(8).toString('hex'),
    '-days', '2', '-sha256', '-extfile', extPath, '-extensions', 'v3', '-out', certPath,
  ]);
  return { email, certPath, keyPath };
}

/** Creates the CA, recipient and signer in `dir` (which must exist). */
export async function createBenchPki(dir: string): Promise<BenchPki> {
  const caKey = join(dir, 'ca.key.pem');
  const caCertPath = join(dir, 'ca.cert.pem');
  await openssl([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caCertPath,
    '-subj', '/CN=smimegw bench throwaway CA', '-days', '2', '-sha256',
    '-addext', 'basicConstraints = critical, CA:TRUE',
    '-addext', 'keyUsage = critical, keyCertSign, cRLSign',
  ]);
  const [recipient, signer] = await Promise.all([
    issue(dir, 'recipient', 'recipient@bench.example', caCertPath, caKey),
    issue(dir, 'signer', 'signer@bench.example', caCertPath, caKey),
  ]);
  return { caCertPath, recipient, signer };
}
