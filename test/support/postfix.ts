/**
 * A private Postfix instance for tests and the benchmark: its own config, queue, data and Maildir
 * folders in a fresh temp folder, fresh free ports on 127.0.0.1, never /etc/postfix or port 25.
 *
 *   submission (smtpd)       127.0.0.1:<submitPort>   what swaks / smtp-source talk to
 *   content_filter           scan:[127.0.0.1]:<filterPort>   the worker under test
 *   re-injection (smtpd)     127.0.0.1:<reinjectPort> no filter again
 *   internal domain          Maildir delivery (virtual) under <dir>/vmail/<user>/
 *   external domains         relayed to 127.0.0.1:<externalPort> (the test's SMTP sink)
 *
 * Tests that need it: `if (!requirePostfixOrSkip(t)) return;` — skipped loudly without Postfix,
 * failing under CI=true (apt-get install postfix swaks).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';

const execFileP = promisify(execFile);

export const POSTFIX_BIN = '/usr/sbin/postfix';
export const POSTQUEUE_BIN = '/usr/sbin/postqueue';
export const SWAKS_BIN = '/usr/bin/swaks';

export const POSTFIX_MISSING_MESSAGE = `Postfix or swaks not installed (${POSTFIX_BIN}, ${SWAKS_BIN}; apt-get install postfix swaks): Postfix tests skipped`;

export function postfixAvailable(): boolean {
  return existsSync(POSTFIX_BIN) && existsSync(POSTQUEUE_BIN) && existsSync(SWAKS_BIN) && existsSync('/usr/lib/postfix/sbin/master');
}

/** True when Postfix can be used; else fails under CI=true, or warns and skips. */
export function requirePostfixOrSkip(t: TestContext): boolean {
  if (postfixAvailable()) {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      const msg = 'Postfix tests need root (a private Postfix instance is started with postfix -c)';
      if (process.env.CI === 'true') throw new Error(msg);
      console.warn(`WARNING: ${msg}: skipped`);
      t.skip(msg);
      return false;
    }
    return true;
  }
  if (process.env.CI === 'true') throw new Error(`${POSTFIX_MISSING_MESSAGE.replace(/: Postfix tests skipped$/, '')}: required when CI=true`);
  console.warn(`WARNING: ${POSTFIX_MISSING_MESSAGE}`);
  t.skip(POSTFIX_MISSING_MESSAGE);
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface PostfixOptions {
  /** Where the content filter listens (the worker). */
  filterPort: number;
  /** The SMTP sink for external domains. */
  externalPort: number;
  /** Domains delivered to Maildirs here. Default ['int.test']. */
  internalDomains?: string[];
  /** Mailboxes of the internal domains (local part@domain). */
  mailboxes: string[];
  /** Domains relayed to the sink. Default ['ext.test']. */
  externalDomains?: string[];
  /** maxproc of the scan (filter) transport. Default 20. */
  filterMaxproc?: number;
  /** maxproc of the re-injection smtpd. Default 100. */
  reinjectMaxproc?: number;
  /** message_size_limit (submission). Default 50 MB. */
  messageSizeLimit?: number;
  /** No content filter at all (the bench's Postfix-only baseline). */
  noFilter?: boolean;
  /**
   * A second submission port whose mail goes to this filter port instead (the bench: one Postfix,
   * protected and pass-through listeners of one worker).
   */
  secondFilterPort?: number;
}

export interface PostfixInstance {
  dir: string;
  configDir: string;
  submitPort: number;
  /** The second submission port (secondFilterPort), if asked for. */
  submitPort2?: number;
  reinjectPort: number;
  hostname: string;
  /** postqueue -p output. */
  queue(): Promise<string>;
  /** Queue IDs currently in the queue (active, deferred, incoming). */
  queuedIds(): Promise<string[]>;
  /** postqueue -f: retry everything now. */
  flush(): Promise<void>;
  /** Messages delivered to an internal mailbox (Maildir new/ and cur/), as file contents. */
  maildir(mailbox: string): Buffer[];
  /** The Postfix log so far. */
  log(): string;
  stop(): Promise<void>;
}

const HOSTNAME = 'mx.postfix-test.invalid';

function inline(map: Record<string, string>): string {
  // no spaces around '=' (Postfix's inline: parser would make them part of the key)
  return `inline:{ ${Object.entries(map)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')} }`;
}

export async function startPostfix(o: PostfixOptions): Promise<PostfixInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'smimegw-postfix-'));
  chmodSync(dir, 0o755); // Postfix daemons run as the postfix user and must reach data/ and the queue
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'queue');
  const dataDir = join(dir, 'data');
  const vmail = join(dir, 'vmail');
  for (const d of [configDir, queueDir, dataDir, vmail]) mkdirSync(d, { recursive: true });
  const postfixUid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim());
  const postfixGid = Number(execFileSync('id', ['-g', 'postfix'], { encoding: 'utf8' }).trim());
  chownSync(dataDir, postfixUid, postfixGid);
  chownSync(vmail, 65534, 65534);

  const [submitPort, reinjectPort, submitPort2] = await Promise.all([freePort(), freePort(), o.secondFilterPort ? freePort() : Promise.resolve(undefined)]);
  const internal = o.internalDomains ?? ['int.test'];
  const external = o.externalDomains ?? ['ext.test'];
  const mailboxes: Record<string, string> = {};
  for (const m of o.mailboxes) mailboxes[m] = `${m.replace(/[^A-Za-z0-9._-]/g, '_')}/`;
  const transports: Record<string, string> = {};
  for (const d of external) transports[d] = `smtp:[127.0.0.1]:${o.externalPort}`;

  const main = [
    'compatibility_level = 3.6',
    `queue_directory = ${queueDir}`,
    `data_directory = ${dataDir}`,
    `myhostname = ${HOSTNAME}`,
    'mydomain = postfix-test.invalid',
    'myorigin = $myhostname',
    'mydestination =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    `maillog_file = ${join(dir, 'maillog')}`,
    `maillog_file_prefixes = /var, /dev/stdout, ${dir}`,
    'smtputf8_enable = yes',
    'biff = no',
    'append_dot_mydomain = no',
    'smtp_dns_support_level = disabled',
    'smtp_tls_security_level = none',
    'smtpd_tls_security_level = none',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    'smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination',
    `relay_domains = ${external.join(' ')}`,
    `transport_maps = ${inline(transports)}`,
    `virtual_mailbox_domains = ${internal.join(' ')}`,
    `virtual_mailbox_base = ${vmail}`,
    `virtual_mailbox_maps = ${inline(mailboxes)}`,
    'virtual_uid_maps = static:65534',
    'virtual_gid_maps = static:65534',
    `message_size_limit = ${o.messageSizeLimit ?? 50 * 1024 * 1024}`,
    'virtual_mailbox_limit = 0',
    'mailbox_size_limit = 0',
    // fast retries: tests flush the queue with postqueue -f instead of waiting
    'queue_run_delay = 5s',
    'minimal_backoff_time = 5s',
    'maximal_backoff_time = 30s',
    'smtp_connect_timeout = 5s',
    'delay_warning_time = 0',
    'smtpd_banner = $myhostname ESMTP',
    ...(o.noFilter ? [] : [`content_filter = scan:[127.0.0.1]:${o.filterPort}`, 'receive_override_options = no_address_mappings']),
    '',
  ].join('\n');

  const master = [
    `127.0.0.1:${submitPort} inet n - n - - smtpd`,
    ...(submitPort2 ? [`127.0.0.1:${submitPort2} inet n - n - - smtpd`, `  -o content_filter=scan:[127.0.0.1]:${o.secondFilterPort}`] : []),
    `scan unix - - n - ${o.filterMaxproc ?? 20} smtp`,
    '  -o smtp_send_xforward_command=yes',
    '  -o disable_mime_output_conversion=yes',
    '  -o smtp_data_done_timeout=600s',
    `127.0.0.1:${reinjectPort} inet n - n - ${o.reinjectMaxproc ?? 100} smtpd`,
    '  -o content_filter=',
    '  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters',
    '  -o mynetworks=127.0.0.0/8',
    '  -o smtpd_relay_restrictions=permit_mynetworks,reject',
    '  -o smtpd_authorized_xforward_hosts=127.0.0.0/8',
    `  -o message_size_limit=${Math.ceil((o.messageSizeLimit ?? 50 * 1024 * 1024) * 1.5)}`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'proxywrite unix - - n - 1 proxymap',
    'smtp unix - - n - - smtp',
    'relay unix - - n - - smtp',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'local unix - n n - - local',
    'virtual unix - n n - - virtual',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
    '',
  ].join('\n');
  writeFileSync(join(configDir, 'main.cf'), main);
  writeFileSync(join(configDir, 'master.cf'), master);

  const env = { ...process.env, LC_ALL: 'C' };
  const postfix = (args: string[]) => execFileP(POSTFIX_BIN, ['-c', configDir, ...args], { env, timeout: 60_000 });
  try {
    await postfix(['check']);
    await postfix(['start']);
  } catch (e) {
    const log = existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`postfix start failed: ${(e as Error).message}\n${log}`);
  }

  let stopped = false;
  const instance: PostfixInstance = {
    dir,
    configDir,
    submitPort,
    ...(submitPort2 ? { submitPort2 } : {}),
    reinjectPort,
    hostname: HOSTNAME,
    async queue() {
      const { stdout } = await execFileP(POSTQUEUE_BIN, ['-c', configDir, '-p'], { env, timeout: 30_000 });
      return stdout;
    },
    async queuedIds() {
      const out = await instance.queue();
      return [...out.matchAll(/^([0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,})[*!]?\s+\d+/gm)].map((m) => m[1]!);
    },
    async flush() {
      await execFileP(POSTQUEUE_BIN, ['-c', configDir, '-f'], { env, timeout: 30_000 });
    },
    maildir(mailbox: string) {
      const base = join(vmail, mailboxes[mailbox] ?? mailbox);
      const out: Buffer[] = [];
      for (const sub of ['new', 'cur']) {
        const d = join(base, sub);
        if (!existsSync(d)) continue;
        for (const f of readdirSync(d).sort()) out.push(readFileSync(join(d, f)));
      }
      return out;
    },
    log() {
      const p = join(dir, 'maillog');
      return existsSync(p) ? readFileSync(p, 'utf8') : '';
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await postfix(['stop']);
      } catch {
        /* already stopped */
      }
      // master exits shortly after `postfix stop`; wait for its pid file to go away
      for (let i = 0; i < 50 && existsSync(join(queueDir, 'pid', 'master.pid')); i++) await new Promise((r) => setTimeout(r, 100));
      if (process.env.SMIMEGW_KEEP_TMP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
  return instance;
}

export interface SwaksOptions {
  port: number;
  from: string;
  to: string[];
  /** The complete message (header, blank line, body); LF line ends are fine (swaks sends CRLF). */
  data: string | Uint8Array;
  timeoutSeconds?: number;
}

export interface SwaksResult {
  code: number | null;
  output: string;
  /** The reply to the end of DATA, e.g. "250 2.0.0 Ok: queued as 4Xyz". */
  dataReply: string | undefined;
  queueId: string | undefined;
}

/** Submits one message with swaks (output with -S 1: the server's replies). */
export async function swaks(o: SwaksOptions): Promise<SwaksResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'smimegw-swaks-'));
  const dataFile = join(tmp, 'message.eml');
  writeFileSync(dataFile, o.data);
  const args = ['--server', '127.0.0.1', '--port', String(o.port), '--from', o.from, '--to', o.to.join(','), '--helo', 'client.test', '--timeout', String(o.timeoutSeconds ?? 30), '--suppress-data', '--data', dataFile];
  let code: number | null = 0;
  let output = '';
  try {
    const r = await execFileP(SWAKS_BIN, args, { timeout: ((o.timeoutSeconds ?? 30) + 10) * 1000, maxBuffer: 16 * 1024 * 1024 });
    output = r.stdout + r.stderr;
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    code = typeof err.code === 'number' ? err.code : null;
    output = (err.stdout ?? '') + (err.stderr ?? '');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const lines = output.split('\n');
  // with --suppress-data swaks prints " -> N lines sent" where the message went
  const dataIdx = lines.findIndex((l) => /^\s*->\s*(\d+ lines sent|\.)\s*$/.test(l));
  const reply = dataIdx >= 0 ? lines.slice(dataIdx + 1).find((l) => /^<[-~*]*\s*\d{3}/.test(l.trim())) : undefined;
  const dataReply = reply?.replace(/^<[-~*]*\s*/, '').trim();
  const queueId = dataReply ? /queued as ([0-9A-Za-z]+)/.exec(dataReply)?.[1] : undefined;
  return { code, output, dataReply, queueId };
}
