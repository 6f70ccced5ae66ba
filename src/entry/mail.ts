/**
 * Wires the content-filter worker from the configuration and an open database: the real recipient
 * directory, the policy and signing-identity stores, the message log, the re-injection pool and the
 * SMTP listener. Used by `npm start` (web + worker in one process) and `smimegw worker` (alone).
 *
 * The download-link fallback is secure pickup (src/pickup) when PICKUP_MASTER_KEY is configured (always
 * outside production): the message is stored encrypted, the sender's notice is re-injected through the
 * same pool, and the recipient gets the notice instead. Without it, recipients whose policy asks for
 * the fallback are treated as having none (mandatory: 550, never plaintext).
 */
import { join } from 'node:path';
import { formatListenAddress, type Config, type ListenAddress } from '../config/index.js';
import type { Database } from '../db/connection.js';
import { DrizzlePolicyStore } from '../db/policy-store.js';
import { DrizzleIdentityStore } from '../db/identity-store.js';
import { DrizzleMessageLog } from '../db/message-log.js';
import { DrizzleDirectoryStore } from '../db/directory-store.js';
import { Directory } from '../directory/directory.js';
import { isAppError } from '../shared/errors.js';
import { CachedPolicies } from '../mail/policy.js';
import { SigningIdentities } from '../mail/identities.js';
import { MessageProcessor } from '../mail/processor.js';
import { BackgroundMessageLog } from '../mail/message-log.js';
import { Reinjector } from '../mail/reinject.js';
import { startWorker, type RunningWorker } from '../mail/worker.js';
import type { SenderNotices } from '../pickup/ports.js';
import { OutboxRelay } from '../db/outbox.js';
import { createSmtpNotifier } from '../notify/smtp.js';
import type { Notifier } from '../notify/index.js';
import { createPickupService, serviceMailFrom } from './web.js';
import type { FallbackLinks, RecipientDirectory } from '../mail/ports.js';
import type { PipelineOptions } from '../mail/pipeline.js';

export type Log = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

/** How long the worker reuses a directory answer (the directory re-checks its version on every lookup). */
export const DIRECTORY_ANSWER_TTL_MS = 1000;

/**
 * The worker's view of the directory: the chosen certificate or null. Answers are reused for up to
 * `ttlMs` (so a revocation reaches the worker within that time, plus the directory's own caching),
 * which spares the database a query per recipient under load.
 */
export function directoryPort(directory: Pick<Directory, 'find'>, options: { ttlMs?: number; now?: () => number } = {}): RecipientDirectory {
  const ttl = options.ttlMs ?? 0;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; answer: Promise<Awaited<ReturnType<RecipientDirectory['lookup']>>> }>();
  const port: RecipientDirectory = {
    async lookup(address) {
      let entry;
      try {
        entry = await directory.find(address);
      } catch (e) {
        // an envelope address the directory cannot read has no certificate; anything else is a failure
        if (isAppError(e) && e.code === 'directory.bad_address') return null;
        throw e;
      }
      if (!entry) return null;
      return {
        certificate: entry.certificate,
        algorithms: { content: entry.algorithms.content, keyTransport: entry.algorithms.keyTransport },
        fingerprint: entry.fingerprint,
        reason: `${entry.reason} [${entry.source}]`,
      };
    },
  };
  if (ttl <= 0) return port;
  return {
    lookup(address) {
      const t = now();
      const hit = cache.get(address);
      if (hit && t - hit.at < ttl) return hit.answer;
      const answer = port.lookup(address);
      cache.set(address, { at: t, answer });
      answer.catch(() => cache.delete(address));
      if (cache.size > 10_000) for (const [k, v] of cache) if (t - v.at >= ttl) cache.delete(k);
      return answer;
    },
  };
}

export interface MailWorkerOptions {
  config: Config;
  database: Database;
  /** The directory (default: a new one over the database). */
  directory?: Pick<Directory, 'find'>;
  fallback?: FallbackLinks;
  log: Log;
  /** Benchmark baseline: pass every message through unchanged, as internal mail (no lookups, no crypto; logged). */
  passThrough?: boolean;
  /**
   * Measurements: a second listener in the same processes that handles every message in
   * pass-through mode (same pool, log and caches), so a benchmark compares both modes within one
   * server instead of two.
   */
  passThroughListen?: ListenAddress;
  /**
   * The service's SMTP notifier (NOTIFY_SMTP_URL) when the caller already has one (npm start: the
   * web service's), for relaying the mail a Workers deployment queued; otherwise the relay makes
   * its own. The caller keeps ownership (closes it).
   */
  notifier?: Notifier;
  /** Called after each message (the benchmark's latency samples). */
  onResult?: (r: { reply: { code: number }; size: number; ms: number; spooled: boolean }) => void;
}

export interface MailWorkerHandle {
  worker: RunningWorker;
  /** The pass-through listener, when `passThroughListen` asked for one. */
  passThrough?: RunningWorker;
  processor: MessageProcessor;
  close(): Promise<void>;
}

export function pipelineOptions(config: Config): PipelineOptions {
  return {
    internalDomains: new Set(config.internalDomains),
    subjectTriggers: config.filterSubjectTriggers,
    publicUrl: config.publicUrl,
  };
}

export async function startMailWorker(o: MailWorkerOptions): Promise<MailWorkerHandle> {
  const { config, database, log } = o;
  const db = database.db;
  const directory = directoryPort(o.directory ?? new Directory({ store: new DrizzleDirectoryStore(db), crlPolicy: config.directoryCrlPolicy }), { ttlMs: DIRECTORY_ANSWER_TTL_MS });
  const policies = new CachedPolicies(new DrizzlePolicyStore(db));
  const identities = new SigningIdentities(new DrizzleIdentityStore(db), config.caKeyPassphrase);
  const reinject = new Reinjector({ url: config.reinjectSmtpUrl, poolSize: config.reinjectPoolSize });
  const fallback = o.fallback ?? (o.passThrough ? undefined : await createPickupService(config, database.db, { senderNotices: reinjectedNotices(reinject) }));
  const spoolDir = join(config.dataDir, 'spool');
  const popts = pipelineOptions(config);
  const messageLog = new BackgroundMessageLog(new DrizzleMessageLog(db), { warn: (m) => log('warn', m), info: (m) => log('info', m) });
  const deps = { directory, policies, identities, reinject, log: messageLog, ...(fallback ? { fallback } : {}), warn: (m: string) => log('warn', m) };
  const processorOptions = { ...popts, spoolDir, timeoutMs: config.filterTimeoutSeconds * 1000 };
  const processor = new MessageProcessor(deps, { ...processorOptions, ...(o.passThrough ? { passThrough: true } : {}) });
  const listen = async (at: ListenAddress, p: MessageProcessor, passThrough: boolean): Promise<RunningWorker> => {
    try {
      return await startWorker(
        p,
        {
          host: at.host,
          port: at.port,
          maxSize: config.filterMaxMessageSize,
          spillThreshold: config.filterSpillThreshold,
          spoolDir,
          maxClients: config.filterMaxClients,
          rcptCheck: !passThrough,
          log: (level, message) => log(level, message),
        },
        { rcptDeps: deps, pipelineOptions: popts, ...(o.onResult ? { onResult: o.onResult } : {}) },
      );
    } catch (e) {
      throw new Error(`cannot listen on ${formatListenAddress(at)} for the filter worker: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  let worker: RunningWorker;
  let passWorker: RunningWorker | undefined;
  try {
    worker = await listen(config.filterListen, processor, o.passThrough === true);
    if (o.passThroughListen) {
      passWorker = await listen(o.passThroughListen, new MessageProcessor(deps, { ...processorOptions, passThrough: true }), true).catch(async (e: unknown) => {
        await worker.close();
        throw e;
      });
      log('info', `pass-through listener (measurements) on smtp://${formatListenAddress({ host: o.passThroughListen.host, port: passWorker.address.port })}`);
    }
  } catch (e) {
    reinject.close();
    throw e;
  }
  log(
    'info',
    `filter worker ready on smtp://${formatListenAddress({ host: config.filterListen.host, port: worker.address.port })}, re-injecting to ${config.reinjectSmtpUrl.replace(/\/\/[^@/]*@/, '//')} (pool ${config.reinjectPoolSize})` +
      `${o.passThrough ? ' in PASS-THROUGH mode' : ''}; internal domains: ${config.internalDomains.join(', ') || 'none'}`,
  );
  // The relay for mail that a Workers deployment of the web service queued (it has no SMTP).
  const relay = config.notifySmtpUrl && !o.passThrough ? startOutboxRelay(db, config, log, o.notifier) : undefined;
  return {
    worker,
    ...(passWorker ? { passThrough: passWorker } : {}),
    processor,
    async close() {
      relay?.stop();
      await Promise.all([worker.close(), passWorker?.close()]);
      reinject.close();
      await messageLog.close();
    },
  };
}

/** Every 5 s: sends the outbox rows marked for relay through NOTIFY_SMTP_URL (`shared`: a notifier the caller owns). */
export function startOutboxRelay(db: Database['db'], config: Config, log: Log, shared?: Notifier, intervalMs = 5000): { stop(): void } {
  const own = shared ? undefined : createSmtpNotifier({ url: config.notifySmtpUrl!, from: serviceMailFrom(config.publicUrl) });
  const notifier = shared ?? own!;
  const relay = new OutboxRelay(db, notifier);
  let running: Promise<void> | undefined;
  const runOnce = (): Promise<void> =>
    (running ??= relay
      .runOnce()
      .then(
        (r) => {
          if (r.sent) log('info', `notification relay: sent ${r.sent} queued mail(s)`);
          if (r.failed) log('warn', `notification relay: ${r.failed} queued mail(s) failed, retried later`);
        },
        (e: unknown) => log('warn', `notification relay: ${String(e)}`),
      )
      .finally(() => (running = undefined)));
  const timer = setInterval(() => void runOnce(), intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      own?.close();
    },
  };
}

/** The sender's pickup notices, re-injected like the worker's own output (null sender: no bounce loops). */
export function reinjectedNotices(reinject: Pick<Reinjector, 'send'>): SenderNotices {
  return {
    async send(to, message) {
      await reinject.send({ from: '', recipients: [{ address: to }] }, message);
    },
  };
}
