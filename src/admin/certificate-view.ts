/**
 * Everything the certificate detail page shows, read from the DER: names, serial, fingerprints,
 * validity, key, and every extension decoded into readable lines (unknown ones as hex).
 */
import { type Node, parse, readOid, readString, stringBytes } from '../pki/asn1.js';
import { capabilityName, decodeCapabilities } from '../pki/capabilities.js';
import { parseCertificate, type Certificate } from '../pki/certificate.js';
import { digest } from '../pki/hash.js';
import { OID, oidName } from '../pki/oids.js';
import { latin1, toHex, fromUtf8 } from '../shared/bytes.js';

export interface ExtensionView {
  oid: string;
  name: string;
  critical: boolean;
  values: string[];
}

export interface CertificateView {
  subject: string;
  issuer: string;
  serialHex: string;
  sha256: string;
  sha1: string;
  notBefore: Date;
  notAfter: Date;
  key: string;
  signatureAlgorithm: string;
  /** Mailboxes the certificate names (SAN rfc822Name / SmtpUTF8Mailbox, subject emailAddress). */
  addresses: string[];
  isCA: boolean;
  extensions: ExtensionView[];
}

/** "AB:CD:..." */
export function colonHex(b: Uint8Array): string {
  return (toHex(b).toUpperCase().match(/../g) ?? []).join(':');
}

const EXTENSION_NAMES: Record<string, string> = {
  [OID.subjectKeyIdentifier]: 'Subject key identifier',
  [OID.keyUsage]: 'Key usage',
  [OID.subjectAltName]: 'Subject alternative name',
  [OID.basicConstraints]: 'Basic constraints',
  [OID.crlDistributionPoints]: 'CRL distribution points',
  [OID.certificatePolicies]: 'Certificate policies',
  [OID.authorityKeyIdentifier]: 'Authority key identifier',
  [OID.extKeyUsage]: 'Extended key usage',
  [OID.authorityInfoAccess]: 'Authority information access',
  [OID.smimeCapabilities]: 'S/MIME capabilities',
};

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  [OID.emailProtection]: 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  [OID.anyExtendedKeyUsage]: 'anyExtendedKeyUsage',
};

/** Certificate policies worth naming (CA/Browser Forum S/MIME Baseline Requirements 7.1.6.1). */
const POLICY_NAMES: Record<string, string> = {
  '2.23.140.1.5.1.1': 'S/MIME mailbox-validated, legacy',
  '2.23.140.1.5.1.2': 'S/MIME mailbox-validated, multipurpose',
  '2.23.140.1.5.1.3': 'S/MIME mailbox-validated, strict',
  '2.5.29.32.0': 'anyPolicy',
};

const ACCESS_METHODS: Record<string, string> = {
  '1.3.6.1.5.5.7.48.1': 'OCSP',
  '1.3.6.1.5.5.7.48.2': 'CA issuers',
};

function generalName(n: Node): string {
  switch (n.tag) {
    case 0x81:
      return `email: ${latin1(n.value)}`;
    case 0x82:
      return `DNS: ${latin1(n.value)}`;
    case 0x86:
      return `URI: ${latin1(n.value)}`;
    case 0x87:
      return `IP: ${n.value.length === 4 ? [...n.value].join('.') : colonHex(n.value)}`;
    case 0xa4:
      return 'directory name';
    case 0xa0: {
      const type = readOid(n.children[0]);
      const inner = n.children[1]?.children[0];
      if (type === OID.smtpUtf8Mailbox && inner) return `email (SmtpUTF8Mailbox): ${fromUtf8(stringBytes(inner))}`;
      return `otherName ${type}`;
    }
    default:
      return `[${(n.tag & 0x1f).toString()}] ${colonHex(n.value.subarray(0, 32))}`;
  }
}

function collectUris(n: Node, out: string[]): string[] {
  if (n.tag === 0x86) out.push(latin1(n.value));
  for (const c of n.children) collectUris(c, out);
  return out;
}

function decodeExtension(oid: string, value: Uint8Array): string[] {
  switch (oid) {
    case OID.keyUsage: {
      const bs = parse(value).value;
      const names: string[] = [];
      KEY_USAGE_BITS.forEach((name, i) => {
        const byte = bs[1 + (i >> 3)] ?? 0;
        if (byte & (0x80 >> (i & 7))) names.push(name);
      });
      return [names.join(', ') || '(none)'];
    }
    case OID.extKeyUsage:
      return parse(value).children.map((c) => {
        const o = readOid(c);
        return EKU_NAMES[o] ?? o;
      });
    case OID.basicConstraints: {
      const seq = parse(value);
      const ca = seq.children[0]?.tag === 0x01 && seq.children[0].value[0] !== 0;
      const len = seq.children.find((c) => c.tag === 0x02);
      return [`CA: ${ca ? 'yes' : 'no'}${len ? `, path length ${[...len.value].reduce((a, b) => a * 256 + b, 0)}` : ''}`];
    }
    case OID.subjectAltName:
      return parse(value).children.map(generalName);
    case OID.subjectKeyIdentifier:
      return [colonHex(stringBytes(parse(value)))];
    case OID.authorityKeyIdentifier: {
      const kid = parse(value).children.find((c) => c.tag === 0x80);
      return kid ? [`key id ${colonHex(kid.value)}`] : ['(issuer and serial)'];
    }
    case OID.crlDistributionPoints:
      return collectUris(parse(value), []);
    case OID.authorityInfoAccess:
      return parse(value).children.map((ad) => {
        const method = readOid(ad.children[0]);
        return `${ACCESS_METHODS[method] ?? method}: ${ad.children[1] ? generalName(ad.children[1]).replace(/^URI: /, '') : ''}`;
      });
    case OID.certificatePolicies:
      return parse(value).children.map((pi) => {
        const oid = readOid(pi.children[0]);
        const policy = POLICY_NAMES[oid] ? `${POLICY_NAMES[oid]} (${oid})` : oid;
        const cps = pi.children[1]?.children.flatMap((q) => (q.children[1]?.tag === 0x16 ? [readString(q.children[1])] : [])) ?? [];
        return cps.length ? `${policy} (CPS ${cps.join(', ')})` : policy;
      });
    case OID.smimeCapabilities:
      return decodeCapabilities(value).map(capabilityName);
    default:
      return [`${colonHex(value.subarray(0, 64))}${value.length > 64 ? ' …' : ''}`];
  }
}

function readExtensions(cert: Certificate): ExtensionView[] {
  const tbs = parse(cert.tbs);
  const wrapper = tbs.children.find((n) => n.tag === 0xa3);
  return (wrapper?.children[0]?.children ?? []).map((ext) => {
    const oid = readOid(ext.children[0]);
    const critical = ext.children.length === 3 && ext.children[1]?.tag === 0x01 && ext.children[1].value[0] !== 0;
    const value = stringBytes(ext.children[ext.children.length - 1]!);
    let values: string[];
    try {
      values = decodeExtension(oid, value);
    } catch {
      values = [`(undecodable) ${colonHex(value.subarray(0, 64))}`];
    }
    return { oid, name: EXTENSION_NAMES[oid] ?? oidName(oid), critical, values };
  });
}

function describeKey(cert: Certificate): string {
  const k = cert.publicKey;
  if (k.kind === 'rsa') return `RSA ${k.bits} bits`;
  if (k.kind === 'ec') return `EC ${k.curve}`;
  return oidName(k.algorithm);
}

export function describeCertificate(der: Uint8Array): CertificateView {
  const cert = parseCertificate(der);
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialHex: cert.serialHex,
    sha256: colonHex(digest('sha256', der)),
    sha1: colonHex(digest('sha1', der)),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    key: describeKey(cert),
    signatureAlgorithm: oidName(cert.signatureAlgorithm),
    addresses: cert.emails,
    isCA: cert.isCA,
    extensions: readExtensions(cert),
  };
}
