/** One shared test PKI for the smime tests, issued once per test file. */
import { readCertificates, type Certificate } from '../../src/pki/certificate.js';
import { readPrivateKey, type PrivateKey } from '../../src/pki/keys.js';
import { createTestPki, type IssueOptions, type IssuedCert, type TestPki } from '../helpers/pki.js';
import { utf8 } from '../../src/shared/bytes.js';

export interface Party {
  issued: IssuedCert;
  certificate: Certificate;
  key: PrivateKey;
  chain: Certificate[];
}

export async function party(pki: TestPki, opts: IssueOptions): Promise<Party> {
  const issued = await pki.issue(opts);
  return {
    issued,
    certificate: readCertificates(utf8(issued.certPem))[0]!,
    key: readPrivateKey(utf8(issued.keyPem)),
    chain: readCertificates(utf8(issued.chainPem)),
  };
}

export function roots(pki: TestPki): Certificate[] {
  return readCertificates(utf8(pki.root.certPem));
}

export { createTestPki };
