/**
 * The pre-issuance linter: every rule of the recipient certificate profile
 * (/work/shared/reference/cert-profile.md, CA/Browser Forum S/MIME BR, strict mailbox-validated),
 * checked on the final DER. The authority refuses to hand out a certificate with any finding.
 *
 *   lintCertificate(der, { issuer }) -> [] when the certificate follows the profile,
 *                                      otherwise one line per violated rule, "<field>: <problem>".
 */
import { child, parse, readOid, readString, readTime, stringBytes, type Node } from '../pki/asn1.js';
import { verifySignature } from '../pki/chain.js';
import type { Certificate } from '../pki/certificate.js';
import { equalBytes, fromUtf8, latin1 } from '../shared/bytes.js';
import { DAY_MS } from './build.js';
import { namedBits } from './der.js';
import { describeSpki, subjectKeyProblem } from './keys.js';
import { certificateMailbox } from './mailbox.js';
import { CA_OID } from './oids.js';

/** Longest validity the profile allows, in days (S/MIME BR 6.3.2). */
export const MAX_VALIDITY_DAYS = 825;

export interface LintOptions {
  /** The issuing CA: when given, the issuer name, the AKI and the signature are checked against it. */
  issuer?: Certificate;
  /** A stricter validity ceiling in days (default and upper bound MAX_VALIDITY_DAYS). */
  maxValidityDays?: number;
}

const SIGNATURE_ALGORITHMS: Record<string, 'rsa' | 'ec'> = {
  [CA_OID.sha256WithRSAEncryption]: 'rsa',
  [CA_OID.sha384WithRSAEncryption]: 'rsa',
  [CA_OID.sha512WithRSAEncryption]: 'rsa',
  [CA_OID.ecdsaWithSha256]: 'ec',
  [CA_OID.ecdsaWithSha384]: 'ec',
  [CA_OID.ecdsaWithSha512]: 'ec',
};

const EXTENSION_NAMES: Record<string, string> = {
  [CA_OID.keyUsage]: 'keyUsage',
  [CA_OID.extKeyUsage]: 'extKeyUsage',
  [CA_OID.subjectAltName]: 'subjectAltName',
  [CA_OID.certificatePolicies]: 'certificatePolicies',
  [CA_OID.crlDistributionPoints]: 'cRLDistributionPoints',
  [CA_OID.authorityInfoAccess]: 'authorityInfoAccess',
  [CA_OID.authorityKeyIdentifier]: 'authorityKeyIdentifier',
  [CA_OID.subjectKeyIdentifier]: 'subjectKeyIdentifier',
  [CA_OID.basicConstraints]: 'basicConstraints',
  [CA_OID.smimeCapabilities]: 'smimeCapabilities',
};
const REQUIRED = ['keyUsage', 'extKeyUsage', 'subjectAltName', 'certificatePolicies', 'cRLDistributionPoints', 'authorityInfoAccess', 'authorityKeyIdentifier', 'subjectKeyIdentifier'];

interface Ext {
  name: string;
  critical: boolean;
  value: Uint8Array;
}

const UTC_RE = /^\d{12}Z$/;
const GEN_RE = /^\d{14}Z$/;

function httpUris(gns: Node[], where: string, findings: string[]): string[] {
  const uris: string[] = [];
  for (const gn of gns) {
    if (gn.tag !== 0x86) {
      findings.push(`${where}: only URI names are allowed (found tag 0x${gn.tag.toString(16)})`);
      continue;
    }
    const uri = latin1(gn.value);
    if (!/^http:\/\/[^\s/?#]+\/\S*$/.test(uri)) findings.push(`${where}: '${uri}' is not an http:// URL`);
    uris.push(uri);
  }
  return uris;
}

/** Lints a DER certificate against the profile. Never throws: a certificate it cannot read is one finding. */
export function lintCertificate(der: Uint8Array, options: LintOptions = {}): string[] {
  const findings: string[] = [];
  try {
    lint(der, options, findings);
  } catch (e) {
    findings.push(`structure: the certificate cannot be read (${(e as Error).message})`);
  }
  return findings;
}

function lint(der: Uint8Array, options: LintOptions, findings: string[]): void {
  const f = (s: string) => findings.push(s);
  const cert = parse(der);
  if (cert.tag !== 0x30 || cert.children.length !== 3) throw new Error('not a Certificate SEQUENCE of three elements');
  const tbs = child(cert, 0, 'tbsCertificate');
  const outerAlg = child(cert, 1, 'signatureAlgorithm');
  const sigValue = child(cert, 2, 'signatureValue');
  let i = 0;
  const next = () => tbs.children[i++];

  // version
  const versionNode = tbs.children[0]?.tag === 0xa0 ? next() : undefined;
  const v = versionNode?.children[0];
  if (!v || v.tag !== 0x02 || v.value.length !== 1 || v.value[0] !== 2) f('version: must be v3');

  // serial
  const serial = next();
  if (!serial || serial.tag !== 0x02) throw new Error('serialNumber missing');
  const s = serial.value;
  if (s.length === 0 || (s.length > 1 && s[0] === 0 && (s[1]! & 0x80) === 0)) f('serialNumber: not minimally encoded');
  if ((s[0]! & 0x80) !== 0) f('serialNumber: must be positive');
  let mag = s;
  while (mag.length > 1 && mag[0] === 0) mag = mag.subarray(1);
  let bits = mag.length * 8;
  for (let b = mag[0] ?? 0; bits > 0 && (b & 0x80) === 0; b <<= 1) bits--;
  if (bits === 0) f('serialNumber: must be greater than zero');
  if (bits > 159) f('serialNumber: must be less than 2^159');
  if (bits < 64) f(`serialNumber: only ${bits} bits; at least 64 random bits are required`);

  // signature algorithm
  const innerAlg = next();
  if (!innerAlg || innerAlg.tag !== 0x30) throw new Error('signature algorithm missing');
  if (!equalBytes(innerAlg.raw, outerAlg.raw)) f('signature: tbsCertificate.signature differs from signatureAlgorithm');
  const algOid = readOid(outerAlg.children[0]);
  const family = SIGNATURE_ALGORITHMS[algOid];
  if (!family) f(`signature: algorithm ${algOid} is not allowed (SHA-256 or stronger with RSA PKCS#1 v1.5 or ECDSA; never SHA-1)`);
  else if (family === 'rsa' && !(outerAlg.children.length === 2 && outerAlg.children[1]!.tag === 0x05)) f('signature: RSA algorithm identifier must carry NULL parameters');
  else if (family === 'ec' && outerAlg.children.length !== 1) f('signature: ECDSA algorithm identifier must have no parameters');

  // issuer, validity, subject, key
  const issuer = next();
  const validity = next();
  const subject = next();
  const spki = next();
  if (!issuer || !validity || !subject || !spki) throw new Error('tbsCertificate is truncated');
  if (issuer.children.length === 0) f('issuer: must not be empty');
  if (options.issuer && !equalBytes(issuer.raw, options.issuer.subjectDer)) f('issuer: does not match the issuing CA subject');

  const [nbNode, naNode] = validity.children;
  if (!nbNode || !naNode) throw new Error('validity is truncated');
  for (const [what, n] of [['notBefore', nbNode], ['notAfter', naNode]] as const) {
    const text = latin1(n.value);
    const year = readTime(n).getUTCFullYear();
    if (n.tag === 0x17 && (!UTC_RE.test(text) || year >= 2050)) f(`validity: ${what} must be UTCTime YYMMDDHHMMSSZ before 2050`);
    if (n.tag === 0x18 && (!GEN_RE.test(text) || year < 2050)) f(`validity: ${what} must be GeneralizedTime YYYYMMDDHHMMSSZ only from 2050`);
  }
  const notBefore = readTime(nbNode);
  const notAfter = readTime(naNode);
  const maxDays = Math.min(options.maxValidityDays ?? MAX_VALIDITY_DAYS, MAX_VALIDITY_DAYS);
  if (notAfter <= notBefore) f('validity: notAfter is not after notBefore');
  else if (notAfter.getTime() - notBefore.getTime() + 1000 > maxDays * DAY_MS) f(`validity: longer than ${maxDays} days`);

  const subjectCns: string[] = [];
  const subjectEmails: string[] = [];
  for (const rdn of subject.children) {
    if (rdn.children.length !== 1) f('subject: multi-valued RDNs are not allowed');
    for (const atv of rdn.children) {
      const type = readOid(atv.children[0]);
      const valueNode = atv.children[1];
      const value = valueNode ? readString(valueNode) : '';
      if (type === CA_OID.commonName) {
        if (valueNode?.tag !== 0x0c && valueNode?.tag !== 0x13) f('subject: commonName must be a UTF8String or PrintableString');
        if ([...value].length > 64) f('subject: commonName longer than 64 characters');
        subjectCns.push(value);
      } else if (type === CA_OID.emailAddress) {
        if (valueNode?.tag !== 0x16) f('subject: emailAddress must be an IA5String');
        subjectEmails.push(value);
      } else if (type !== CA_OID.serialNumber) {
        f(`subject: attribute ${type} is not allowed (only commonName, emailAddress and serialNumber)`);
      }
    }
  }
  if (spki.tag !== 0x30) throw new Error('subjectPublicKeyInfo missing');
  const keyProblem = subjectKeyProblem(spki);
  if (keyProblem) f(`subjectPublicKeyInfo: ${keyProblem}`);

  // unique identifiers and extensions
  let extsNode: Node | undefined;
  for (let n = next(); n; n = next()) {
    if (n.tag === 0x81 || n.tag === 0xa1 || n.tag === 0x82 || n.tag === 0xa2) f('uniqueIdentifier: issuer/subject unique identifiers are not allowed');
    else if (n.tag === 0xa3) extsNode = n.children[0];
    else f(`structure: unexpected element 0x${n.tag.toString(16)} in tbsCertificate`);
  }
  const exts = new Map<string, Ext>();
  for (const e of extsNode?.children ?? []) {
    const extOid = readOid(e.children[0]);
    const name = EXTENSION_NAMES[extOid] ?? extOid;
    let critical = false;
    if (e.children.length === 3) {
      const c = e.children[1]!;
      if (c.tag !== 0x01 || c.value.length !== 1) f(`${name}: critical flag malformed`);
      else if (c.value[0] === 0) f(`${name}: critical=FALSE must be omitted in DER`);
      else if (c.value[0] !== 0xff) f(`${name}: BOOLEAN TRUE must be 0xFF in DER`);
      critical = c.value[0] !== 0;
    }
    const value = stringBytes(e.children[e.children.length - 1]!);
    if (exts.has(name)) f(`${name}: appears more than once`);
    if (!EXTENSION_NAMES[extOid]) f(`extensions: ${extOid} is not part of the profile`);
    exts.set(name, { name, critical, value });
  }
  for (const r of REQUIRED) if (!exts.has(r)) f(`${r}: missing`);
  for (const e of exts.values()) {
    const mayBeCritical = e.name === 'keyUsage' || e.name === 'basicConstraints' || e.name === 'subjectAltName';
    if (e.critical && !mayBeCritical) f(`${e.name}: must not be critical`);
  }

  const rules: Record<string, (e: Ext) => void> = {
    keyUsage(e) {
      if (!e.critical) f('keyUsage: must be critical');
      let kind: string | undefined;
      try {
        kind = describeSpki(spki).kind;
      } catch {
        kind = undefined;
      }
      if (kind === 'rsa' && !equalBytes(e.value, namedBits([0, 2]))) f('keyUsage: RSA keys must have exactly digitalSignature and keyEncipherment');
      if (kind === 'ec' && !equalBytes(e.value, namedBits([0, 4]))) f('keyUsage: EC keys must have exactly digitalSignature and keyAgreement');
    },
    extKeyUsage(e) {
      const oids = parse(e.value).children.map((n) => readOid(n));
      if (oids.length !== 1 || oids[0] !== CA_OID.emailProtection) f(`extKeyUsage: must be id-kp-emailProtection only (found ${oids.join(', ') || 'none'})`);
    },
    subjectAltName(e) {
      const mailboxes: string[] = [];
      const gns = parse(e.value).children;
      if (gns.length === 0) f('subjectAltName: empty');
      for (const gn of gns) {
        if (gn.tag === 0x81) {
          const v = latin1(gn.value);
          mailboxes.push(v);
          if (!mailboxOk(v, 'rfc822Name')) f(`subjectAltName: rfc822Name '${v}' is not a normalised ASCII mailbox (non-ASCII local parts go into SmtpUTF8Mailbox)`);
        } else if (gn.tag === 0xa0 && readOid(gn.children[0]) === CA_OID.smtpUtf8Mailbox) {
          const vNode = gn.children[1]?.children[0];
          const v = vNode ? fromUtf8(vNode.value) : '';
          mailboxes.push(v);
          if (vNode?.tag !== 0x0c) f('subjectAltName: SmtpUTF8Mailbox must be a UTF8String');
          if (!mailboxOk(v, 'smtpUtf8Mailbox')) f(`subjectAltName: SmtpUTF8Mailbox '${v}' must have a non-ASCII local part and a normalised domain (RFC 9598)`);
        } else {
          f(`subjectAltName: only rfc822Name and SmtpUTF8Mailbox are allowed (found tag 0x${gn.tag.toString(16)})`);
        }
      }
      for (const v of [...subjectCns, ...subjectEmails]) {
        if (!mailboxes.includes(v)) f(`subject: '${v}' is not repeated in subjectAltName`);
      }
      const emptySubject = subject.children.length === 0;
      if (emptySubject && !e.critical) f('subjectAltName: must be critical when the subject is empty');
      if (!emptySubject && e.critical) f('subjectAltName: must not be critical when the subject is not empty');
    },
    certificatePolicies(e) {
      const pis = parse(e.value).children;
      const ids = pis.map((p) => readOid(p.children[0]));
      if (ids.length !== 1 || ids[0] !== CA_OID.policyMailboxStrict) f(`certificatePolicies: must be exactly ${CA_OID.policyMailboxStrict} (found ${ids.join(', ') || 'none'})`);
      for (const q of pis.flatMap((p) => p.children[1]?.children ?? [])) {
        const qid = readOid(q.children[0]);
        if (qid !== CA_OID.cpsQualifier) f(`certificatePolicies: qualifier ${qid} is not allowed (only a CPS URL)`);
        else if (!/^https?:\/\//.test(latin1(q.children[1]?.value ?? new Uint8Array()))) f('certificatePolicies: CPS qualifier must be an http(s) URL');
      }
    },
    cRLDistributionPoints(e) {
      const dps = parse(e.value).children;
      if (dps.length === 0) f('cRLDistributionPoints: empty');
      let uris = 0;
      for (const dp of dps) {
        if (dp.children.some((c) => c.tag !== 0xa0)) f('cRLDistributionPoints: reasons and cRLIssuer are not allowed');
        const full = dp.children.find((c) => c.tag === 0xa0)?.children[0];
        if (!full || full.tag !== 0xa0) {
          f('cRLDistributionPoints: each point needs a fullName');
          continue;
        }
        uris += httpUris(full.children, 'cRLDistributionPoints', findings).length;
      }
      if (uris === 0) f('cRLDistributionPoints: no http:// URL');
    },
    authorityInfoAccess(e) {
      let caIssuers = 0;
      for (const ad of parse(e.value).children) {
        const method = readOid(ad.children[0]);
        if (method !== CA_OID.ocspAccess && method !== CA_OID.caIssuersAccess) f(`authorityInfoAccess: access method ${method} is not allowed`);
        const n = httpUris(ad.children.slice(1), 'authorityInfoAccess', findings).length;
        if (method === CA_OID.caIssuersAccess) caIssuers += n;
      }
      if (caIssuers === 0) f('authorityInfoAccess: no caIssuers http:// URL');
    },
    authorityKeyIdentifier(e) {
      const parts = parse(e.value).children;
      if (parts.length !== 1 || parts[0]!.tag !== 0x80 || parts[0]!.value.length === 0) f('authorityKeyIdentifier: must hold keyIdentifier only');
      else if (options.issuer?.subjectKeyId && !equalBytes(parts[0]!.value, options.issuer.subjectKeyId)) f("authorityKeyIdentifier: does not match the issuing CA's subjectKeyIdentifier");
    },
    subjectKeyIdentifier(e) {
      const n = parse(e.value);
      if (n.tag !== 0x04 || n.value.length === 0) f('subjectKeyIdentifier: must be a non-empty OCTET STRING');
    },
    basicConstraints(e) {
      const n = parse(e.value);
      if (n.tag !== 0x30) f('basicConstraints: malformed');
      else if (n.children.some((c) => c.tag === 0x01 && c.value[0] !== 0)) f('basicConstraints: cA must be false');
      else if (n.children.length > 0) f('basicConstraints: must be empty (cA=false omitted in DER, no pathLenConstraint)');
    },
    smimeCapabilities(e) {
      const caps = parse(e.value).children;
      if (caps.length === 0 || caps.some((c) => c.tag !== 0x30)) f('smimeCapabilities: must be a non-empty SEQUENCE OF SMIMECapability');
    },
  };
  for (const e of exts.values()) {
    try {
      rules[e.name]?.(e);
    } catch (err) {
      f(`${e.name}: malformed (${(err as Error).message})`);
    }
  }

  // signature
  if (sigValue.tag !== 0x03 || sigValue.value[0] !== 0) f('signatureValue: malformed BIT STRING');
  if (options.issuer && family) {
    let ok = false;
    try {
      ok = verifySignature(options.issuer.publicKey.spki, algOid, outerAlg.children[1]?.raw, tbs.raw, sigValue.value.subarray(1));
    } catch {
      ok = false;
    }
    if (!ok) f("signature: does not verify with the issuing CA's key");
  }
}

function mailboxOk(value: string, form: 'rfc822Name' | 'smtpUtf8Mailbox'): boolean {
  try {
    const m = certificateMailbox(value);
    return m.address === value && m.form === form;
  } catch {
    return false;
  }
}
