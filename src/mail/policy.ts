/**
 * Worker policy: what to do with mail to an external recipient.
 *
 * A policy row sets any of three fields for one scope; a field left unset (null) inherits from the
 * wider scope: global -> domain -> address.
 *
 * - encrypt mode (none | opportunistic | mandatory) and the fallback link are resolved for the
 *   RECIPIENT: global -> domain:<recipient domain> -> address:<recipient>. The sender's own scopes
 *   (domain:<sender domain>, address:<sender>) can only make the mode stricter: a sender set to
 *   mandatory sends every external mail encrypted or not at all.
 * - sign is resolved for the SENDER: global -> domain:<sender domain> -> address:<sender>.
 * - A subject trigger (e.g. "[secure]") forces mandatory for the message and is removed.
 *
 * With no rows at all: opportunistic, sign on (when a signing identity applies), fallback link off.
 */
import { AppError } from '../shared/errors.js';
import { normalizeAddress } from '../pki/certificate.js';

export const ENCRYPT_MODES = ['none', 'opportunistic', 'mandatory'] as const;
export type EncryptMode = (typeof ENCRYPT_MODES)[number];

export const POLICY_DEFAULTS: EffectivePolicy = Object.freeze({ encryptMode: 'opportunistic', sign: true, fallbackLink: false });

/** One stored row: 'global', 'domain:<domain>' or 'address:<mailbox>'; null = inherit. */
export interface PolicyRule {
  scope: string;
  encryptMode: EncryptMode | null;
  sign: boolean | null;
  fallbackLink: boolean | null;
  updatedBy?: string;
  updatedAt?: Date;
}

export interface EffectivePolicy {
  encryptMode: EncryptMode;
  sign: boolean;
  fallbackLink: boolean;
}

/** Where each effective value came from (for the message log and `smimegw policy explain`). */
export interface ResolvedPolicy extends EffectivePolicy {
  from: { encryptMode: string; sign: string; fallbackLink: string };
}

const STRICTNESS: Record<EncryptMode, number> = { none: 0, opportunistic: 1, mandatory: 2 };

export function stricter(a: EncryptMode, b: EncryptMode): EncryptMode {
  return STRICTNESS[a] >= STRICTNESS[b] ? a : b;
}

/** The domain part of a mailbox, lower-cased ('' when there is no '@'). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

export const GLOBAL_SCOPE = 'global';
export const domainScope = (domain: string): string => `domain:${domain.toLowerCase()}`;
export const addressScope = (address: string): string => `address:${normalizeAddress(address)}`;

const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * A scope as an administrator types it: 'global', a domain ('example.com', 'domain:example.com') or
 * a mailbox ('alice@example.com', 'address:alice@example.com'). Returns the stored form.
 */
export function parseScope(input: string): string {
  const s = input.trim();
  if (s.toLowerCase() === GLOBAL_SCOPE) return GLOBAL_SCOPE;
  const explicit = /^(domain|address):(.*)$/i.exec(s);
  const kind = explicit ? explicit[1]!.toLowerCase() : s.includes('@') ? 'address' : 'domain';
  const value = explicit ? explicit[2]!.trim() : s;
  if (kind === 'domain') {
    const d = value.toLowerCase().replace(/\.$/, '');
    if (!DOMAIN_RE.test(d)) throw new AppError('policy.bad_scope', `'${input}' is not a domain (expected e.g. example.com), an address or 'global'`);
    return domainScope(d);
  }
  const at = value.lastIndexOf('@');
  if (at < 1 || !DOMAIN_RE.test(value.slice(at + 1).toLowerCase()) || /[\s<>]/.test(value)) {
    throw new AppError('policy.bad_scope', `'${input}' is not a mailbox address (expected e.g. alice@example.com)`);
  }
  return addressScope(value);
}

/** Scopes consulted for a (sender, recipient) pair, widest first within each chain. */
export function scopesFor(sender: string, recipient: string): string[] {
  const out = [GLOBAL_SCOPE];
  if (recipient) out.push(domainScope(domainOf(recipient)), addressScope(recipient));
  if (sender) out.push(domainScope(domainOf(sender)), addressScope(sender));
  return [...new Set(out)];
}

/**
 * The effective policy for mail from `sender` to `recipient`, given the stored rules (any superset
 * of the relevant ones; a Map by scope or a list).
 */
export function resolvePolicy(rules: ReadonlyMap<string, PolicyRule>, sender: string, recipient: string): ResolvedPolicy {
  const chain = (scopes: string[]) => scopes.map((s) => rules.get(s)).filter((r): r is PolicyRule => r !== undefined);
  const senderScopes = sender ? [domainScope(domainOf(sender)), addressScope(sender)] : [];
  const recipientChain = chain([GLOBAL_SCOPE, ...(recipient ? [domainScope(domainOf(recipient)), addressScope(recipient)] : [])]);
  const senderChain = chain([GLOBAL_SCOPE, ...senderScopes]);

  const pick = <K extends keyof EffectivePolicy>(rows: PolicyRule[], key: K): { value: EffectivePolicy[K]; from: string } => {
    let value = POLICY_DEFAULTS[key];
    let from = 'default';
    for (const r of rows) {
      const v = r[key];
      if (v !== null && v !== undefined) {
        value = v as EffectivePolicy[K];
        from = r.scope;
      }
    }
    return { value, from };
  };

  const mode = pick(recipientChain, 'encryptMode');
  let encryptMode = mode.value;
  let modeFrom = mode.from;
  for (const r of chain(senderScopes)) {
    if (r.encryptMode && stricter(r.encryptMode, encryptMode) !== encryptMode) {
      encryptMode = r.encryptMode;
      modeFrom = `${r.scope} (sender)`;
    }
  }
  const sign = pick(senderChain, 'sign');
  const fallback = pick(recipientChain, 'fallbackLink');
  return {
    encryptMode,
    sign: sign.value,
    fallbackLink: fallback.value,
    from: { encryptMode: modeFrom, sign: sign.from, fallbackLink: fallback.from },
  };
}

const resolved = new WeakMap<ReadonlyMap<string, PolicyRule>, Map<string, ResolvedPolicy>>();
const RESOLVED_PER_SNAPSHOT = 10_000;

/**
 * resolvePolicy for the worker: the answer for a sender and recipient is computed once per policy
 * snapshot (the table as read, which CachedPolicies replaces on every re-read) and shared, frozen,
 * by the messages that follow; at most RESOLVED_PER_SNAPSHOT pairs are kept per snapshot.
 */
export function resolvePolicyCached(rules: ReadonlyMap<string, PolicyRule>, sender: string, recipient: string): ResolvedPolicy {
  let bySnapshot = resolved.get(rules);
  if (!bySnapshot) resolved.set(rules, (bySnapshot = new Map()));
  const key = `${sender}\n${recipient}`;
  let r = bySnapshot.get(key);
  if (!r) {
    r = resolvePolicy(rules, sender, recipient);
    Object.freeze(r.from);
    Object.freeze(r);
    if (bySnapshot.size >= RESOLVED_PER_SNAPSHOT) bySnapshot.clear();
    bySnapshot.set(key, r);
  }
  return r;
}

const mandatoryIn = new WeakMap<ReadonlyMap<string, PolicyRule>, boolean>();

/** Whether any rule makes encryption mandatory (computed once per policy snapshot, like resolvePolicyCached). */
export function hasMandatory(rules: ReadonlyMap<string, PolicyRule>): boolean {
  let m = mandatoryIn.get(rules);
  if (m === undefined) {
    m = [...rules.values()].some((r) => r.encryptMode === 'mandatory');
    mandatoryIn.set(rules, m);
  }
  return m;
}

/** Parses 'on'/'off'/'inherit' (and yes/no/true/false) for the CLI; undefined = not given. */
export function parseSwitch(name: string, value: string | undefined): boolean | null | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (['on', 'yes', 'true', '1'].includes(v)) return true;
  if (['off', 'no', 'false', '0'].includes(v)) return false;
  if (v === 'inherit') return null;
  throw new AppError('policy.bad_value', `${name} must be on, off or inherit, got '${value}'`);
}

export function parseEncryptMode(value: string | undefined): EncryptMode | null | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'inherit') return null;
  if ((ENCRYPT_MODES as readonly string[]).includes(v)) return v as EncryptMode;
  throw new AppError('policy.bad_value', `encrypt mode must be one of ${ENCRYPT_MODES.join(', ')} or inherit, got '${value}'`);
}

/** How long the worker keeps its copy of the policy table before reading it again. */
export const POLICY_REFRESH_MS = 5_000;

/**
 * The policy table as the worker reads it: the whole (small) table, re-read at most every
 * `refreshMs`. A failed read rejects (the message gets 451), it never falls back to defaults.
 */
export class CachedPolicies {
  private snapshot: { at: number; rules: ReadonlyMap<string, PolicyRule> } | undefined;
  private loading: Promise<ReadonlyMap<string, PolicyRule>> | undefined;

  constructor(
    private readonly store: { all(): Promise<PolicyRule[]> },
    private readonly options: { refreshMs?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  invalidate(): void {
    this.snapshot = undefined;
  }

  current(): ReadonlyMap<string, PolicyRule> | undefined {
    const s = this.snapshot;
    return s && this.now() - s.at < (this.options.refreshMs ?? POLICY_REFRESH_MS) ? s.rules : undefined;
  }

  async rules(): Promise<ReadonlyMap<string, PolicyRule>> {
    const fresh = this.current();
    if (fresh) return fresh;
    this.loading ??= this.store
      .all()
      .then((rows) => {
        const rules = new Map(rows.map((r) => [r.scope, r] as const));
        this.snapshot = { at: this.now(), rules };
        return rules;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}
