/**
 * The CA (src/ca Authority) as enrollment's CertificateIssuer. check() is the Authority's own
 * checkRequest (structure, proof of possession, SHA-256 or stronger, an acceptable key never
 * certified for this mailbox, the proven mailbox and no other) without issuing, so a refused
 * request does not spend the person's token; issue() lets the Authority check again, issue,
 * register the certificate in the directory and audit it.
 */
import type { Authority } from '../ca/authority.js';
import type { CertificateIssuer } from './service.js';

type AuthorityLike = Pick<Authority, 'issue' | 'checkRequest' | 'caCertificatePem'>;

export function authorityIssuer(authority: AuthorityLike): CertificateIssuer {
  return {
    async check({ csrPem, authorizedAddress }) {
      await authority.checkRequest({ csr: csrPem, authorizedAddress });
    },
    async issue({ csrPem, authorizedAddress, actor }) {
      const issued = await authority.issue({ csr: csrPem, authorizedAddress, actor });
      // The issuing CA, then the root: what a mail client needs to trust the certificate.
      return { certificatePem: issued.pem, chainPem: issued.chainPem + authority.caCertificatePem('root') };
    },
  };
}
