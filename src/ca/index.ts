/**
 * The certificate authority (src/ca): a root and an issuing intermediate that issue the strict
 * mailbox-validated S/MIME profile (/work/shared/reference/cert-profile.md), with revocation,
 * CRLs, OCSP and renewal reminders. Node-only (node:crypto).
 *
 * ## Wiring (src/entry/node.ts, src/cli-ca.ts)
 *
 *   const authority = new Authority({
 *     store: new DrizzleCaStore(db),          // src/db/ca-store.ts
 *     audit: new DrizzleAuditLog(db),         // src/db/audit.ts
 *     publicUrl: config.publicUrl,            // CRL/OCSP/AIA URLs: http://<host>/crl/issuing.crl, /ocsp, /ca/issuing.crt
 *     validityDays: config.caValidityDays,    // CA_VALIDITY_DAYS (default 365, max 825)
 *     production: config.nodeEnv === 'production',
 *   });
 *   await startAuthority({ authority, passphrase: config.caKeyPassphrase, production, writeDevFiles });
 *   // = authority.load(passphrase) when a CA is stored, else init({ development: true }) outside production.
 *
 * ## Authority API (for enrollment, admin pages, CLI). Every method throws AppError; kinds map to HTTP.
 *
 * - `issue({ csr, authorizedAddress, validityDays?, actor })` -> `{ id, certificate, pem, chainPem }`
 *   csr: PEM or DER PKCS#10 (string or bytes). authorizedAddress: the mailbox the caller proved
 *   (enrollment) or vouches for (admin). The certificate always gets CN=<address> and the SAN
 *   rfc822Name (SmtpUTF8Mailbox for a non-ASCII local part), whatever else the CSR asks for.
 *   id: the certificates row; pem: the certificate; chainPem: the issuing CA (add
 *   `caCertificatePem('root')` for a full chain). Audited as cert.issued / cert.issue_refused.
 *   Refusals (nothing issued):
 *     ca.bad_address 400            the address cannot go into a certificate
 *     ca.bad_validity 400           validityDays not 1..825
 *     ca.csr_malformed 400          garbage, not PKCS#10, bad PEM; ca.csr_too_large 413 (> 16 KB)
 *     ca.csr_weak_signature 400     CSR signed with SHA-1/MD5
 *     ca.csr_bad_signature 400      proof of possession fails (altered request)
 *     ca.csr_weak_key 400           RSA < 2048 bits (or not a multiple of 8, even exponent), EC
 *                                   other than P-256/P-384/P-521, other key types
 *     ca.csr_no_address 400         the CSR names no mailbox (put the address in CN or SAN)
 *     ca.csr_wrong_address 403      the CSR names another mailbox
 *     ca.key_reused 409             key already certified for this mailbox (renewal must re-key)
 *     ca.key_compromised 400        key of a certificate revoked for keyCompromise
 *     ca.profile_violation 500      the pre-issuance linter found a deviation (a bug; detail.findings)
 *     ca.not_ready 503              the CA is not loaded
 * - `checkRequest({ csr, authorizedAddress })` -> `{ mailbox, request }`: the same request checks
 *   without issuing or auditing (to refuse early, e.g. before spending a one-time token).
 * - `revoke({ serialHex, reason, actor, holderAddress? })` -> `{ id, serialHex, email, revokedAt, reason }`
 *   reason: 'unspecified' | 'keyCompromise' | 'affiliationChanged' | 'superseded' |
 *   'cessationOfOperation' | 'privilegeWithdrawn' (REVOCATION_REASONS in ./crl.ts; 'unspecified'
 *   is stored as null and left off the CRL). holderAddress: set for revocation by the holder
 *   (after proving the mailbox again): the certificate must be theirs (else ca.not_found 404) and
 *   privilegeWithdrawn is refused. Sets status 'revoked', revoked_at, revocation_reason, bumps the
 *   directory version, regenerates the CRL, audits cert.revoked / cert.revoke_refused.
 *   Errors: ca.bad_serial 400, ca.bad_reason 400/403, ca.not_found 404, ca.already_revoked 409.
 * - `crl(id = 'issuing', { force? })` -> DER: newest CRL; regenerated when older than a day (or
 *   forced); nextUpdate = thisUpdate + 7 days; audited as ca.crl_issued. `refreshCrls()` for jobs.
 * - `ocsp(requestDer)` -> DER OCSPResponse (never throws): good only for serials we issued and
 *   did not revoke, revoked with time and reason, unknown otherwise; malformedRequest,
 *   unauthorized (another CA's certificate), tryLater (not loaded).
 * - `caCertificate(id)` -> Certificate, `caCertificatePem(id)` -> PEM, `pkiUrls` (crl/caCertificate/ocsp URLs).
 * - `findIssued(serialHex)`, `issuedFor(address)`: our certificates as stored (IssuedRecord).
 * - `remindersDue(now?)` -> `[{ certificateId, email, serialHex, notAfter, which: 30 | 7 }]`,
 *   `markReminded(certificateId, which, at?)`; the job is `sendRenewalReminders({ authority,
 *   notifier, publicUrl })` in ./reminders.ts (link `${PUBLIC_URL}/enroll?renew=<address>`).
 * - `init({ passphrase, development, replaceDevelopment?, rootKey?, issuingKey?, organization?, actor? })`
 *   creates, stores and loads a hierarchy (ca.exists 409 when one exists; replaceDevelopment
 *   replaces only a development one). `load(passphrase)` loads the stored one (ca.not_initialized,
 *   ca.development_in_production, ca.key_passphrase). `loaded`, `development`, `exists()`.
 *
 * ## Pieces
 * - signer.ts: the `Signer` port ({ algorithm, publicKeySpki, sign }) an HSM/KMS can implement
 *   (AuthorityOptions.signerFor), the software signer, scrypt-PBES2 key encryption.
 * - csr.ts, mailbox.ts, keys.ts: request parsing and checks; build.ts: certificate bodies;
 *   profile.ts: `lintCertificate(der, { issuer })` -> findings; crl.ts; ocsp.ts; store.ts: the
 *   `CaStore` port; bootstrap.ts: startAuthority; reminders.ts.
 */
export { Authority, END_ENTITY_REVOCATION_REASONS, normalizeSerialHex, dueReminder, CRL_REFRESH_MS, CRL_VALIDITY_MS, OCSP_VALIDITY_MS } from './authority.js';
export type { AuthorityOptions, CaAuditLog, InitOptions, InitResult, IssueRequest, IssuedCertificate, RevokeRequest, RevokedCertificate, RenewalReminder } from './authority.js';
export { startAuthority, devCaFiles, type DevCaFile, type StartAuthorityOptions, type StartAuthorityResult } from './bootstrap.js';
export { pkiUrls, type PkiUrls } from './build.js';
export { REVOCATION_REASONS, REVOCATION_REASON_CODES, isRevocationReason, type RevocationReason } from './crl.js';
export { parseRequest, verifyRequest, requestedMailboxes, type CertificationRequest } from './csr.js';
export { certificateMailbox, sameMailbox, mailboxKey, type CertificateMailbox } from './mailbox.js';
export { lintCertificate, MAX_VALIDITY_DAYS, type LintOptions } from './profile.js';
export { sendRenewalReminders, reminderMail, renewalLink, type ReminderNotifier, type ReminderJobDeps, type ReminderJobResult } from './reminders.js';
export { createSoftwareSigner, encryptPrivateKey, encryptPrivateKeyPem, decryptPrivateKey, generateCaKey, type Signer, type SignatureAlgorithmName, type CaKeyType } from './signer.js';
export { AUTHORITY_IDS, isAuthorityId, type AuthorityId, type AuthorityRecord, type CaStore, type IssuedRecord } from './store.js';
