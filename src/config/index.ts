/**
 * Typed, validated configuration from an env-like record. Runtime-agnostic (no node: imports):
 * the caller passes the environment; on Node that is `process.env` (the default).
 *
 * Every variable has an embedded default except CA_KEY_PASSPHRASE and ADMIN_SECRET_KEY in production. An empty string
 * counts as unset. All problems are collected and reported together in one AppError with code
 * `config.invalid`; `detail.problems` lists `{ variable, message }` for each.
 */
import { AppError } from '../shared/errors.js';
import { fromBase64, fromHex } from '../shared/bytes.js';

export const NODE_ENVS = ['development', 'production', 'test'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the directory does when an external CA's CRL cannot be obtained (see src/directory/revocation.ts). */
export const DIRECTORY_CRL_POLICIES = ['fail-open', 'fail-closed'] as const;
export type DirectoryCrlPolicy = (typeof DIRECTORY_CRL_POLICIES)[number];

/** Passphrase used for the development CA key when none is configured. Refused in production. */
export const DEV_CA_KEY_PASSPHRASE = 'smimegw-dev-only-insecure-passphrase';

/** Admin console secret (encrypts TOTP secrets) used when none is configured. Refused in production. */
export const DEV_ADMIN_SECRET_KEY = 'smimegw-dev-only-insecure-admin-secret';
/** ADMIN_SECRET_KEY must be at least this long (e.g. `openssl rand -base64 32`). */
export const ADMIN_SECRET_KEY_MIN_LENGTH = 32;

/** Secure pickup's master key used outside production when none is configured (base64 of 32 ASCII bytes). Refused in production. */
export const DEV_PICKUP_MASTER_KEY = 'c21pbWVndy1kZXYtb25seS1pbnNlY3VyZS1waWNrdXA=';
/** How a secure-pickup recipient proves themselves: a code mailed to them, or a password the sender passes on. */
export const PICKUP_MODES = ['code', 'password'] as const;
export type PickupModeSetting = (typeof PICKUP_MODES)[number];
/** Whether the recipient's pickup notice names the subject. */
export const PICKUP_NOTICE_SUBJECTS = ['show', 'hide'] as const;

export interface ListenAddress {
  /** Host name or IP address; IPv6 without brackets (e.g. "::1"). */
  host: string;
  /** 0..65535; 0 asks the OS for a free port. */
  port: number;
}

export type DatabaseConfig =
  /** Embedded PGlite, stored in `dataDir` (= `${DATA_DIR}/pglite`). */
  | { kind: 'pglite'; dataDir: string }
  /** An external PostgreSQL server. */
  | { kind: 'postgres'; url: string };

export interface Config {
  nodeEnv: NodeEnv;
  /** DATA_DIR, without a trailing slash. */
  dataDir: string;
  database: DatabaseConfig;
  httpListen: ListenAddress;
  /** PUBLIC_URL without a trailing slash, e.g. "https://smime.example.com". */
  publicUrl: string;
  filterListen: ListenAddress;
  /** smtp:// or smtps:// URL the filter worker re-injects processed mail to. */
  reinjectSmtpUrl: string;
  /** smtp:// or smtps:// URL for notification mail; undefined = notifications off. */
  notifySmtpUrl: string | undefined;
  caKeyPassphrase: string;
  /** True when caKeyPassphrase is the embedded development default. */
  caKeyPassphraseIsDevDefault: boolean;
  /** CA_VALIDITY_DAYS: validity of the certificates the CA issues, 1..825 days. */
  caValidityDays: number;
  /** ADMIN_SECRET_KEY: encrypts the admin console's TOTP secrets at rest. */
  adminSecretKey: string;
  /** True when adminSecretKey is the embedded development default. */
  adminSecretKeyIsDevDefault: boolean;
  /** DIRECTORY_CRL_POLICY: use or refuse an external certificate whose CRL cannot be had. */
  directoryCrlPolicy: DirectoryCrlPolicy;
  /** INTERNAL_DOMAINS: lower-case domains whose mail the filter worker passes through unchanged. */
  internalDomains: readonly string[];
  /** FILTER_MAX_MESSAGE_SIZE: largest message the worker accepts, in bytes. */
  filterMaxMessageSize: number;
  /** FILTER_SPILL_THRESHOLD: bytes of a message kept in memory before it goes to a spool file. */
  filterSpillThreshold: number;
  /** FILTER_SUBJECT_TRIGGERS: subject words that force mandatory encryption (removed before sending). */
  filterSubjectTriggers: readonly string[];
  /** FILTER_MAX_CLIENTS: concurrent SMTP sessions the worker serves (more get 421). */
  filterMaxClients: number;
  /** FILTER_TIMEOUT: seconds a message may take before the worker gives up with 451. */
  filterTimeoutSeconds: number;
  /** REINJECT_POOL_SIZE: pooled connections to REINJECT_SMTP_URL (keep below that smtpd's maxproc). */
  reinjectPoolSize: number;
  /** FILTER_PROCESSES: worker processes of `smimegw worker`; 'auto' = one per core with PostgreSQL, 1 with PGlite. */
  filterProcesses: number | 'auto';
  /** PICKUP_MASTER_KEY (32 bytes): wraps the per-message keys of secure pickup; undefined = secure pickup off. */
  pickupMasterKey: Uint8Array | undefined;
  /** True when pickupMasterKey is the embedded development default. */
  pickupMasterKeyIsDevDefault: boolean;
  /** PICKUP_EXPIRY_DAYS: days a message waits for pickup before it is deleted (1..90). */
  pickupExpiryDays: number;
  /** PICKUP_MODE: 'code' (mailed on request) or 'password' (out-of-band, given to the sender). */
  pickupMode: PickupModeSetting;
  /** PICKUP_NOTICE_SUBJECT: whether the recipient's notice shows the subject. */
  pickupNoticeSubject: (typeof PICKUP_NOTICE_SUBJECTS)[number];
  logLevel: LogLevel;
}

export type Env = Readonly<Record<string, string | undefined>>;

export const CONFIG_DEFAULTS = {
  NODE_ENV: 'development',
  DATA_DIR: './data',
  HTTP_LISTEN: '127.0.0.1:8080',
  PUBLIC_URL: 'http://127.0.0.1:8080',
  FILTER_LISTEN: '127.0.0.1:10025',
  REINJECT_SMTP_URL: 'smtp://127.0.0.1:10026',
  LOG_LEVEL: 'info',
  CA_VALIDITY_DAYS: '365',
  DIRECTORY_CRL_POLICY: 'fail-open',
  FILTER_MAX_MESSAGE_SIZE: '50M',
  FILTER_SPILL_THRESHOLD: '1M',
  FILTER_SUBJECT_TRIGGERS: '[secure],[暗号化]',
  FILTER_MAX_CLIENTS: '100',
  FILTER_TIMEOUT: '300',
  REINJECT_POOL_SIZE: '10',
  FILTER_PROCESSES: 'auto',
  PICKUP_EXPIRY_DAYS: '7',
  PICKUP_MODE: 'code',
  PICKUP_NOTICE_SUBJECT: 'show',
} as const;

interface Problem {
  variable: string;
  message: string;
}

export function loadConfig(env: Env = process.env): Config {
  const problems: Problem[] = [];
  const problem = (variable: string, message: string): void => {
    problems.push({ variable, message });
  };
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const nodeEnv = oneOf('NODE_ENV', get('NODE_ENV') ?? CONFIG_DEFAULTS.NODE_ENV, NODE_ENVS, problem) ?? 'development';
  const logLevel = oneOf('LOG_LEVEL', get('LOG_LEVEL') ?? CONFIG_DEFAULTS.LOG_LEVEL, LOG_LEVELS, problem) ?? 'info';
  const directoryCrlPolicy = oneOf('DIRECTORY_CRL_POLICY', get('DIRECTORY_CRL_POLICY') ?? CONFIG_DEFAULTS.DIRECTORY_CRL_POLICY, DIRECTORY_CRL_POLICIES, problem) ?? 'fail-open';

  let dataDir = get('DATA_DIR') ?? CONFIG_DEFAULTS.DATA_DIR;
  if (dataDir.length > 1) dataDir = dataDir.replace(/\/+$/, '') || '/';

  let database: DatabaseConfig = { kind: 'pglite', dataDir: `${dataDir === '/' ? '' : dataDir}/pglite` };
  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined) {
    const u = parseUrl(databaseUrl);
    if (!u || (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') || u.hostname === '') {
      problem('DATABASE_URL', `DATABASE_URL must be a postgres:// or postgresql:// URL with a host, got '${redactUrl(databaseUrl)}'`);
    } else {
      database = { kind: 'postgres', url: databaseUrl };
    }
  }

  const httpListen = listenAddress('HTTP_LISTEN', get('HTTP_LISTEN') ?? CONFIG_DEFAULTS.HTTP_LISTEN, problem);
  const filterListen = listenAddress('FILTER_LISTEN', get('FILTER_LISTEN') ?? CONFIG_DEFAULTS.FILTER_LISTEN, problem);

  let publicUrl: string = CONFIG_DEFAULTS.PUBLIC_URL;
  const rawPublic = get('PUBLIC_URL') ?? CONFIG_DEFAULTS.PUBLIC_URL;
  const pu = parseUrl(rawPublic);
  if (!pu || (pu.protocol !== 'http:' && pu.protocol !== 'https:') || pu.hostname === '') {
    problem('PUBLIC_URL', `PUBLIC_URL must be an http:// or https:// URL, got '${rawPublic}'`);
  } else if (pu.search !== '' || pu.hash !== '' || pu.username !== '' || pu.password !== '') {
    problem('PUBLIC_URL', `PUBLIC_URL must not contain credentials, a query or a fragment, got '${rawPublic}'`);
  } else {
    publicUrl = pu.href.replace(/\/+$/, '');
  }

  const reinjectSmtpUrl = smtpUrl('REINJECT_SMTP_URL', get('REINJECT_SMTP_URL') ?? CONFIG_DEFAULTS.REINJECT_SMTP_URL, problem);
  const rawNotify = get('NOTIFY_SMTP_URL');
  const notifySmtpUrl = rawNotify === undefined ? undefined : smtpUrl('NOTIFY_SMTP_URL', rawNotify, problem);

  let caKeyPassphrase = get('CA_KEY_PASSPHRASE');
  let caKeyPassphraseIsDevDefault = false;
  if (nodeEnv === 'production') {
    if (caKeyPassphrase === undefined) {
      problem('CA_KEY_PASSPHRASE', 'CA_KEY_PASSPHRASE is required when NODE_ENV=production');
    } else if (caKeyPassphrase === DEV_CA_KEY_PASSPHRASE) {
      problem('CA_KEY_PASSPHRASE', 'CA_KEY_PASSPHRASE must not be the development default when NODE_ENV=production');
    }
  }
  if (caKeyPassphrase === undefined) {
    caKeyPassphrase = DEV_CA_KEY_PASSPHRASE;
    caKeyPassphraseIsDevDefault = true;
  } else if (caKeyPassphrase === DEV_CA_KEY_PASSPHRASE) {
    caKeyPassphraseIsDevDefault = true;
  }

  const rawValidity = get('CA_VALIDITY_DAYS') ?? CONFIG_DEFAULTS.CA_VALIDITY_DAYS;
  const caValidityDays = Number(rawValidity);
  if (!/^\d+$/.test(rawValidity) || caValidityDays < 1 || caValidityDays > 825) {
    problem('CA_VALIDITY_DAYS', `CA_VALIDITY_DAYS must be a whole number of days from 1 to 825, got '${rawValidity}'`);
  }

  let adminSecretKey = get('ADMIN_SECRET_KEY');
  let adminSecretKeyIsDevDefault = false;
  if (nodeEnv === 'production') {
    if (adminSecretKey === undefined) {
      problem('ADMIN_SECRET_KEY', 'ADMIN_SECRET_KEY is required when NODE_ENV=production (e.g. openssl rand -base64 32)');
    } else if (adminSecretKey === DEV_ADMIN_SECRET_KEY) {
      problem('ADMIN_SECRET_KEY', 'ADMIN_SECRET_KEY must not be the development default when NODE_ENV=production');
    }
  }
  if (adminSecretKey !== undefined && adminSecretKey !== DEV_ADMIN_SECRET_KEY && adminSecretKey.length < ADMIN_SECRET_KEY_MIN_LENGTH) {
    problem('ADMIN_SECRET_KEY', `ADMIN_SECRET_KEY must be at least ${ADMIN_SECRET_KEY_MIN_LENGTH} characters (e.g. openssl rand -base64 32), got ${adminSecretKey.length}`);
  }
  if (adminSecretKey === undefined) {
    adminSecretKey = DEV_ADMIN_SECRET_KEY;
    adminSecretKeyIsDevDefault = true;
  } else if (adminSecretKey === DEV_ADMIN_SECRET_KEY) {
    adminSecretKeyIsDevDefault = true;
  }

  const internalDomains: string[] = [];
  for (const d of (get('INTERNAL_DOMAINS') ?? '').split(/[\s,]+/).filter(Boolean)) {
    const domain = d.toLowerCase().replace(/\.$/, '');
    if (!HOSTNAME_RE.test(domain) || !domain.includes('.')) problem('INTERNAL_DOMAINS', `INTERNAL_DOMAINS must list domain names separated by commas, got '${d}'`);
    else if (!internalDomains.includes(domain)) internalDomains.push(domain);
  }
  const filterMaxMessageSize = byteSize('FILTER_MAX_MESSAGE_SIZE', get('FILTER_MAX_MESSAGE_SIZE') ?? CONFIG_DEFAULTS.FILTER_MAX_MESSAGE_SIZE, 1024, 2 ** 31 - 1, problem);
  const filterSpillThreshold = byteSize('FILTER_SPILL_THRESHOLD', get('FILTER_SPILL_THRESHOLD') ?? CONFIG_DEFAULTS.FILTER_SPILL_THRESHOLD, 1024, 2 ** 31 - 1, problem);
  const rawTriggers = get('FILTER_SUBJECT_TRIGGERS') ?? CONFIG_DEFAULTS.FILTER_SUBJECT_TRIGGERS;
  const filterSubjectTriggers = rawTriggers.toLowerCase() === 'none' ? [] : rawTriggers.split(',').map((t) => t.trim()).filter(Boolean);
  if (filterSubjectTriggers.some((t) => t.length > 100 || /[\r\n]/.test(t)) || (rawTriggers.toLowerCase() !== 'none' && filterSubjectTriggers.length === 0)) {
    problem('FILTER_SUBJECT_TRIGGERS', `FILTER_SUBJECT_TRIGGERS must be words separated by commas (at most 100 characters each), or 'none', got '${rawTriggers}'`);
  }
  const filterMaxClients = wholeNumber('FILTER_MAX_CLIENTS', get('FILTER_MAX_CLIENTS') ?? CONFIG_DEFAULTS.FILTER_MAX_CLIENTS, 1, 10_000, problem);
  const filterTimeoutSeconds = wholeNumber('FILTER_TIMEOUT', get('FILTER_TIMEOUT') ?? CONFIG_DEFAULTS.FILTER_TIMEOUT, 5, 3600, problem);
  const reinjectPoolSize = wholeNumber('REINJECT_POOL_SIZE', get('REINJECT_POOL_SIZE') ?? CONFIG_DEFAULTS.REINJECT_POOL_SIZE, 1, 1000, problem);
  const rawProcesses = get('FILTER_PROCESSES') ?? CONFIG_DEFAULTS.FILTER_PROCESSES;
  const filterProcesses = rawProcesses.toLowerCase() === 'auto' ? 'auto' : wholeNumber('FILTER_PROCESSES', rawProcesses, 1, 64, problem);
  if (typeof filterProcesses === 'number' && filterProcesses > 1 && database.kind === 'pglite') {
    problem('FILTER_PROCESSES', `FILTER_PROCESSES=${rawProcesses} needs DATABASE_URL: the embedded database (PGlite) can be opened by one process only`);
  }

  const rawPickupKey = get('PICKUP_MASTER_KEY');
  let pickupMasterKey: Uint8Array | undefined;
  let pickupMasterKeyIsDevDefault = false;
  if (rawPickupKey !== undefined) {
    pickupMasterKey = masterKey(rawPickupKey);
    if (!pickupMasterKey) {
      problem('PICKUP_MASTER_KEY', `PICKUP_MASTER_KEY must be 32 random bytes in base64 or 64 hex digits (e.g. openssl rand -base64 32), got ${rawPickupKey.length} characters that are not`);
    } else if (rawPickupKey === DEV_PICKUP_MASTER_KEY) {
      if (nodeEnv === 'production') problem('PICKUP_MASTER_KEY', 'PICKUP_MASTER_KEY must not be the development default when NODE_ENV=production');
      pickupMasterKeyIsDevDefault = true;
    }
  } else if (nodeEnv !== 'production') {
    pickupMasterKey = masterKey(DEV_PICKUP_MASTER_KEY);
    pickupMasterKeyIsDevDefault = true;
  }
  const pickupExpiryDays = wholeNumber('PICKUP_EXPIRY_DAYS', get('PICKUP_EXPIRY_DAYS') ?? CONFIG_DEFAULTS.PICKUP_EXPIRY_DAYS, 1, 90, problem);
  const pickupMode = oneOf('PICKUP_MODE', get('PICKUP_MODE') ?? CONFIG_DEFAULTS.PICKUP_MODE, PICKUP_MODES, problem) ?? 'code';
  const pickupNoticeSubject = oneOf('PICKUP_NOTICE_SUBJECT', get('PICKUP_NOTICE_SUBJECT') ?? CONFIG_DEFAULTS.PICKUP_NOTICE_SUBJECT, PICKUP_NOTICE_SUBJECTS, problem) ?? 'show';

  if (problems.length > 0) {
    throw new AppError('config.invalid', `Invalid configuration: ${problems.map((p) => p.message).join('; ')}`, {
      kind: 'bad_input',
      detail: { problems },
    });
  }

  return Object.freeze({
    nodeEnv,
    dataDir,
    database: Object.freeze(database),
    httpListen: Object.freeze(httpListen!),
    publicUrl,
    filterListen: Object.freeze(filterListen!),
    reinjectSmtpUrl: reinjectSmtpUrl!,
    notifySmtpUrl,
    caKeyPassphrase,
    caKeyPassphraseIsDevDefault,
    caValidityDays,
    adminSecretKey,
    adminSecretKeyIsDevDefault,
    directoryCrlPolicy,
    internalDomains: Object.freeze(internalDomains),
    filterMaxMessageSize,
    filterSpillThreshold,
    filterSubjectTriggers: Object.freeze(filterSubjectTriggers),
    filterMaxClients,
    filterTimeoutSeconds,
    reinjectPoolSize,
    filterProcesses,
    pickupMasterKey,
    pickupMasterKeyIsDevDefault,
    pickupExpiryDays,
    pickupMode,
    pickupNoticeSubject,
    logLevel,
  });
}

/** 32 bytes from base64 (standard or url alphabet) or 64 hex digits; undefined otherwise. */
function masterKey(value: string): Uint8Array | undefined {
  let bytes: Uint8Array | undefined;
  try {
    bytes = /^[0-9a-fA-F]{64}$/.test(value) ? fromHex(value) : /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ? fromBase64(value) : undefined;
  } catch {
    bytes = undefined;
  }
  return bytes && bytes.length === 32 ? bytes : undefined;
}

/** A byte count: digits with an optional K, M or G (1024-based; a trailing B is allowed). */
function byteSize(name: string, value: string, min: number, max: number, problem: (variable: string, message: string) => void): number {
  const m = /^(\d+)\s*([KMG]?)B?$/i.exec(value);
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
  if (!m || !Number.isSafeInteger(n) || n < min || n > max) {
    problem(name, `${name} must be a size from 1K to 2047M (e.g. 52428800, 50M), got '${value}'`);
    return min;
  }
  return n;
}

function wholeNumber(name: string, value: string, min: number, max: number, problem: (variable: string, message: string) => void): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    problem(name, `${name} must be a whole number from ${min} to ${max}, got '${value}'`);
    return min;
  }
  return n;
}

/** "host:port" as a URL-ish string, brackets around IPv6 hosts (e.g. "[::1]:8080"). */
export function formatListenAddress(a: ListenAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

function oneOf<T extends string>(
  name: string,
  value: string,
  allowed: readonly T[],
  problem: (variable: string, message: string) => void,
): T | undefined {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  problem(name, `${name} must be one of ${allowed.join('|')}, got '${value}'`);
  return undefined;
}

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;

/** Parses host:port (or [v6]:port) for a command-line option; throws with a message naming `name`. */
export function parseListenAddress(name: string, value: string): ListenAddress {
  let message = '';
  const a = listenAddress(name, value, (_v, m) => (message = m));
  if (!a) throw new AppError('config.invalid', message);
  return a;
}

function listenAddress(
  name: string,
  value: string,
  problem: (variable: string, message: string) => void,
): ListenAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(value);
  if (!m) {
    problem(name, `${name} must be host:port, got '${value}'`);
    return undefined;
  }
  const v6 = m[1];
  const host = v6 ?? m[2]!;
  if (v6 !== undefined ? !(IPV6_RE.test(v6) && v6.includes(':')) : !HOSTNAME_RE.test(host)) {
    problem(name, `${name} has an invalid host '${host}' (want a host name, an IPv4 address or [IPv6])`);
    return undefined;
  }
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port > 65535) {
    problem(name, `${name} port must be 0-65535, got '${m[3]}'`);
    return undefined;
  }
  return { host, port };
}

function smtpUrl(name: string, value: string, problem: (variable: string, message: string) => void): string | undefined {
  const u = parseUrl(value);
  if (!u || (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') || u.hostname === '') {
    problem(name, `${name} must be an smtp:// or smtps:// URL with a host, got '${redactUrl(value)}'`);
    return undefined;
  }
  return value;
}

function parseUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

/** Hides a password in a URL-looking string so it never lands in an error message or a log. */
export function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}
