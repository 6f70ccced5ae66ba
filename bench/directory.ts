/**
 * npm run bench:directory (also run by npm run bench): lookups per second and latency (p50, p99) of
 * the recipient-certificate directory with 100,000 addresses on file, uncached and cached, on
 * embedded PGlite and (when the server binaries are installed) a throwaway PostgreSQL 15.
 * Target: p99 of a cached lookup under 1 ms.
 *
 * The 100,000 certificates (one per address, RSA-2048 key shared, ECDSA P-256 root as issuer) are
 * written with the project's DER writer and inserted in bulk. A cached lookup still reads the
 * shared directory_version (one indexed single-row query) so that a change in any process is seen
 * on the next lookup; uncached, each lookup also reads the rows, parses the certificate, validates
 * the chain (signature check) and the revocation state, and chooses the algorithms.
 *
 * Writes its table into docs/PERFORMANCE.md between its own markers, below the engine bench's
 * "end of generated section" marker (bench/run.ts keeps everything after that marker).
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { loadConfig } from '../src/config/index.js';
import { openDatabase, type Database } from '../src/db/connection.js';
import { DrizzleDirectoryStore } from '../src/db/directory-store.js';
import { bumpDirectoryVersion } from '../src/db/certificate-rows.js';
import { certificateAddresses, certificates } from '../src/db/schema.js';
import { Directory } from '../src/directory/directory.js';
import { parseCertificate, type Certificate } from '../src/pki/certificate.js';
import { algId, bitString, ctx, int, octets, oid, seq, setOf, time, tlv, utf8String } from '../src/pki/der.js';
import { OID } from '../src/pki/oids.js';
import { postgresBinDir, startPostgres } from '../test/support/postgres.js';

const here = dirname(fileURLToPath(import.meta.url));
const DOC = join(resolve(here, '..'), 'docs', 'PERFORMANCE.md');
const NOTES_MARKER = '<!-- end of generated section: notes below this line are kept by npm run bench -->';
const BEGIN = '<!-- directory bench (npm run bench:directory): begin -->';
const END = '<!-- directory bench: end -->';

const ADDRESSES = Number(process.env.BENCH_DIRECTORY_ADDRESSES ?? 100_000);
const UNCACHED_LOOKUPS = 3_000;
const WORKING_SET = 10_000;
const CACHED_LOOKUPS = 100_000;
const TARGET_P99_MS = 1;
const RELAXED_MS = 100;

const name = (cn: string) => seq(setOf(seq(oid(OID.commonName), utf8String(cn))));
const address = (i: number) => `user${i}@dept${i % 100}.example`;

function ext(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? seq(oid(id), Uint8Array.of(0x01, 0x01, 0xff), octets(value)) : seq(oid(id), octets(value));
}

/** 100,000 end-entity certificates signed by one ECDSA P-256 root, written with src/pki/der.ts. */
function makeCertificates(n: number): { root: Certificate; leaves: Certificate[] } {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leafKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const caSpki = new Uint8Array(ca.publicKey.export({ type: 'spki', format: 'der' }));
  const leafSpki = new Uint8Array(leafKey.publicKey.export({ type: 'spki', format: 'der' }));
  const sigAlg = algId(OID.ecdsaWithSha256);
  const rootName = name('smimegw bench root');
  const now = Date.now();
  const notBefore = time(new Date(now - 86_400_000));
  const notAfter = time(new Date(now + 365 * 86_400_000));
  const signed = (tbs: Uint8Array) => seq(tbs, sigAlg, bitString(new Uint8Array(sign('sha256', tbs, ca.privateKey))));
  const rootTbs = seq(
    ctx(0, true, int(2)), int(1), sigAlg, rootName, seq(notBefore, notAfter), rootName, caSpki,
    ctx(3, true, seq(ext(OID.basicConstraints, true, seq(Uint8Array.of(0x01, 0x01, 0xff))), ext(OID.keyUsage, true, bitString(Uint8Array.of(0x06), 1)))),
  );
  const root = parseCertificate(signed(rootTbs));
  const ku = ext(OID.keyUsage, true, bitString(Uint8Array.of(0xa0), 5)); // digitalSignature, keyEncipherment
  const eku = ext(OID.extKeyUsage, false, seq(oid(OID.emailProtection)));
  const leaves: Certificate[] = [];
  for (let i = 0; i < n; i++) {
    const a = address(i);
    const san = ext(OID.subjectAltName, false, seq(tlv(0x81, new TextEncoder().encode(a))));
    const tbs = seq(ctx(0, true, int(2)), int(1_000_000 + i), sigAlg, rootName, seq(notBefore, notAfter), name(a), leafSpki, ctx(3, true, seq(ku, eku, san)));
    leaves.push(parseCertificate(signed(tbs)));
  }
  return { root, leaves };
}

async function load(database: Database, root: Certificate, leaves: Certificate[]): Promise<void> {
  const store = new DrizzleDirectoryStore(database.db);
  await store.addTrustedRoot(root, 'bench');
  const BATCH = 1000;
  for (let i = 0; i < leaves.length; i += BATCH) {
    const batch = leaves.slice(i, i + BATCH);
    const ids = await database.db
      .insert(certificates)
      .values(
        batch.map((c) => ({
          fingerprintSha256: c.fingerprint256, email: c.emails[0]!, serialHex: c.serialHex, issuerDn: c.issuer, subjectDn: c.subject,
          notBefore: c.notBefore, notAfter: c.notAfter, source: 'imported' as const, status: 'active' as const, der: c.der,
        })),
      )
      .returning({ id: certificates.id, email: certificates.email });
    await database.db.insert(certificateAddresses).values(ids.map((r) => ({ certificateId: r.id, address: r.email })));
  }
  await bumpDirectoryVersion(database.db);
}

interface Measure {
  lookups: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(directory: Directory, addresses: readonly string[], count: number, seed: number): Promise<Measure> {
  const lat = new Float64Array(count);
  let x = seed;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const a = addresses[x % addresses.length]!;
    const s = performance.now();
    const r = await directory.find(a);
    lat[i] = performance.now() - s;
    if (!r) throw new Error(`bench: no certificate for ${a}`);
  }
  const total = (performance.now() - t0) / 1000;
  lat.sort();
  return { lookups: count, perSecond: count / total, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1]! };
}

interface Row {
  backend: string;
  mode: string;
  m: Measure;
}

async function benchBackend(label: string, database: Database, root: Certificate, leaves: Certificate[]): Promise<Row[]> {
  const t0 = performance.now();
  await load(database, root, leaves);
  console.log(`${label}: ${leaves.length} certificates inserted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const store = new DrizzleDirectoryStore(database.db);
  const all = leaves.map((_, i) => address(i));
  const uncached = new Directory({ store, cache: false });
  await measure(uncached, all, 200, 1); // warm-up (JIT, connection pool)
  const u = await measure(uncached, all, UNCACHED_LOOKUPS, 7);
  console.log(`${label} uncached: ${u.perSecond.toFixed(0)}/s p50 ${u.p50.toFixed(3)} ms p99 ${u.p99.toFixed(3)} ms`);

  const cached = new Directory({ store });
  const working = all.slice(0, Math.min(WORKING_SET, all.length));
  for (const a of working) await cached.find(a); // fill the cache
  await measure(cached, working, 2000, 3); // warm-up
  const c = await measure(cached, working, CACHED_LOOKUPS, 11);
  const stats = cached.cacheStats();
  console.log(`${label} cached: ${c.perSecond.toFixed(0)}/s p50 ${c.p50.toFixed(3)} ms p99 ${c.p99.toFixed(3)} ms (cache ${stats.entries} entries, ${stats.hits} hits, ${stats.misses} misses)`);
  if (stats.misses !== working.length) throw new Error(`bench: expected ${working.length} cache misses (the fill), saw ${stats.misses}`);
  // Opt-in: the version read reused for up to 100 ms (changes by other processes seen within 100 ms).
  const relaxed = new Directory({ store, cache: { versionMaxAgeMs: RELAXED_MS } });
  for (const a of working) await relaxed.find(a);
  await measure(relaxed, working, 2000, 3);
  const rx = await measure(relaxed, working, CACHED_LOOKUPS, 13);
  console.log(`${label} cached, version reused ${RELAXED_MS} ms: ${rx.perSecond.toFixed(0)}/s p50 ${rx.p50.toFixed(3)} ms p99 ${rx.p99.toFixed(3)} ms`);
  return [
    { backend: label, mode: 'uncached', m: u },
    { backend: label, mode: 'cached', m: c },
    { backend: label, mode: `cached, versionMaxAgeMs ${RELAXED_MS}`, m: rx },
  ];
}

function table(rows: Row[]): string {
  const head = ['Backend', 'Lookups', 'Measured', 'lookups/s', 'p50 (ms)', 'p99 (ms)', 'max (ms)'];
  const body = rows.map((r) => [r.backend, r.mode, r.m.lookups.toLocaleString('en-US'), Math.round(r.m.perSecond).toLocaleString('en-US'), r.m.p50.toFixed(3), r.m.p99.toFixed(3), r.m.max.toFixed(1)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
  return [line(head), `|${w.map((n, i) => (i >= 2 ? `${'-'.repeat(n + 1)}:` : `:${'-'.repeat(n + 1)}`)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = loadavg()[0]!.toFixed(2);
  console.log(`smimegw directory bench: ${ADDRESSES} addresses, ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadStart}`);
  const t0 = performance.now();
  const { root, leaves } = makeCertificates(ADDRESSES);
  console.log(`generated ${leaves.length} certificates in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const rows: Row[] = [];
  const pglite = await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true });
  try {
    rows.push(...(await benchBackend('PGlite (embedded)', pglite, root, leaves)));
  } finally {
    await pglite.close();
  }
  let pgNote = '';
  if (postgresBinDir()) {
    const pg = await startPostgres();
    try {
      const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
      await admin.unsafe('create database bench');
      await admin.end();
      const db = await openDatabase(loadConfig({ NODE_ENV: 'test', DATABASE_URL: pg.url.replace(/\/postgres$/, '/bench') }));
      try {
        rows.push(...(await benchBackend('PostgreSQL 15 (local, TCP)', db, root, leaves)));
      } finally {
        await db.close();
      }
    } finally {
      await pg.stop();
    }
  } else pgNote = ' PostgreSQL server binaries were not found, so only PGlite was measured.';

  const cachedRows = rows.filter((r) => r.mode === 'cached'); // the default (strict) mode is what the target judges
  const pass = cachedRows.every((r) => r.m.p99 < TARGET_P99_MS);
  const seconds = (performance.now() - started) / 1000;
  const section = [
    BEGIN,
    '',
    '## Directory lookups',
    '',
    `Generated by \`npm run bench:directory\` (bench/directory.ts; also run by \`npm run bench\`) on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ` +
      `${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores, Node ${process.version}, load average ${loadStart} / ${loadavg()[0]!.toFixed(2)}; the bench took ${Math.round(seconds)} s.`,
    '',
    table(rows),
    '',
    `Target: a cached lookup's p99 under ${TARGET_P99_MS} ms: **${pass ? 'PASS' : 'FAIL'}** (${cachedRows.map((r) => `${r.backend}: ${r.m.p99.toFixed(3)} ms`).join('; ')}).`,
    '',
    `- ${ADDRESSES.toLocaleString('en-US')} addresses on file, one certificate each (RSA-2048 key, issued by an ECDSA P-256 root trusted by the directory, no CRL distribution point), inserted in bulk.`,
    `- Uncached: a Directory without cache; ${UNCACHED_LOOKUPS.toLocaleString('en-US')} lookups of random addresses, one after the other. Each reads directory_version, the address's rows and the trust store version, parses the certificate, validates its chain (one ECDSA verification), checks revocation state and the address, and chooses the algorithms.`,
    `- Cached: the cache filled with a working set of ${WORKING_SET.toLocaleString('en-US')} addresses, then ${CACHED_LOOKUPS.toLocaleString('en-US')} lookups drawn from it. Every cached lookup still reads directory_version (one single-row query) so that a revocation or an upload in any process is seen on the very next lookup; that round trip is most of its cost.`,
    `- Cached, versionMaxAgeMs ${RELAXED_MS} (opt-in, not the default): the version read is reused for up to ${RELAXED_MS} ms, so changes made by other processes are seen within ${RELAXED_MS} ms instead of on the next lookup (changes made through the same Directory still at once). Shown for the cost of the round trip; the target is judged on the default.`,
    `- Latency is measured around each \`directory.find(address)\` call (performance.now()), sequentially, in one process; lookups/s = lookups / wall time.${pgNote}`,
    '',
    END,
  ].join('\n');

  let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : `# Performance\n\n${NOTES_MARKER}\n`;
  const b = doc.indexOf(BEGIN);
  const e = doc.indexOf(END);
  if (b >= 0 && e > b) doc = doc.slice(0, b) + section + doc.slice(e + END.length);
  else {
    if (!doc.includes(NOTES_MARKER)) doc = doc.replace(/\n*$/, `\n\n${NOTES_MARKER}\n`);
    doc = doc.replace(/\n*$/, '\n\n') + section + '\n';
  }
  writeFileSync(DOC, doc);
  console.log(`\n${table(rows)}\n\n${pass ? 'PASS' : 'FAIL'}: cached p99 target ${TARGET_P99_MS} ms\nwrote ${DOC}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
