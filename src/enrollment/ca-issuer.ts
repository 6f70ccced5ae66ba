/**
 * The CA (src/ca Authority) as enrollment's CertificateIssuer. check() runs the CA's own request
 * checks (structure, proof of possession, SHA-256 or stronger, acceptable key, the proven mailbox
 * and no other) without issuing, so a refused request does not spend the person's token; issue()
 * then lets the Authority check again, issue, register the certificate and audit it.
 */
import type { Authority } from '../ca/authority.js';
import { parseRequest, requestedMailboxes, verifyRequest } from '../ca/csr.js';
import { certificateMailbox, sameMailbox } from '../ca/mailbox.js';
import { AppError } from '../shared/errors.js';
import type { CertificateIssuer } from './service.js';

type AuthorityLike = Pick<Authority, 'issue' | 'caCertificatePem'>;

export function authorityIssuer(authority: AuthorityLike | (() => AuthorityLike)): CertificateIssuer {
  const ca = typeof authority === 'function' ? authority : () => authority;
  return {
    async check({ csrPem, authorizedAddress }) {
      const mailbox = certificateMailbox(authorizedAddress);
      const csr = parseRequest(csrPem);
      verifyRequest(csr);
      const named = requestedMailboxes(csr);
      if (named.length === 0) {
        throw new AppError('ca.csr_no_address', `The certificate request names no mailbox; put ${mailbox.address} in its CN or subjectAltName`);
      }
      const other = named.find((n) => !sameMailbox(n, mailbox.address));
      if (other !== undefined) {
        throw new AppError('ca.csr_wrong_address', `The certificate request is for '${other}', but the verified address is ${mailbox.address}`, { kind: 'forbidden' });
      }
    },
    async issue({ csrPem, authorizedAddress, actor }) {
      const a = ca();
      const issued = await a.issue({ csr: csrPem, authorizedAddress, actor });
      // The issuing CA, then the root: what a mail client needs to trust the certificate.
      return { certificatePem: issued.pem, chainPem: issued.chainPem + a.caCertificatePem('root') };
    },
  };
}
