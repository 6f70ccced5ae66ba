/** `openssl cms -encrypt` as one process per message (the baseline the gateway replaces). */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export function opensslArgs(messagePath: string, recipientCert: string, extra: string[] = []): string[] {
  return ['cms', '-encrypt', '-binary', '-aes256', '-in', messagePath, ...extra, recipientCert];
}

/** One `openssl cms -encrypt` process, stdout read into a discarding sink; resolves to the output size. */
export function opensslOnce(messagePath: string, recipientCert: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', opensslArgs(messagePath, recipientCert), { stdio: ['ignore', 'pipe', 'pipe'] });
    let n = 0;
    let err = '';
    p.stdout.on('data', (c: Buffer) => (n += c.length));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve(n) : reject(new Error(`openssl cms -encrypt exited ${code}: ${err}`))));
  });
}

/** Max RSS of one openssl run via GNU time (%M, KiB); undefined when /usr/bin/time is missing. */
export async function opensslMaxRss(messagePath: string, recipientCert: string): Promise<number | undefined> {
  if (!existsSync('/usr/bin/time')) return undefined;
  const { stderr } = await execFileP('/usr/bin/time', ['-f', 'maxrss=%M', 'openssl', ...opensslArgs(messagePath, recipientCert, ['-out', '/dev/null'])], {
    maxBuffer: 1024 * 1024,
  });
  const m = /maxrss=(\d+)/.exec(stderr);
  return m ? Number(m[1]) * 1024 : undefined;
}
