/** The filter worker's configuration variables (INTERNAL_DOMAINS, FILTER_*, REINJECT_POOL_SIZE). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, type Env } from '../../src/config/index.js';
import { AppError } from '../../src/shared/errors.js';

function problemsOf(env: Env): Array<{ variable: string; message: string }> {
  try {
    loadConfig(env);
  } catch (e) {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, 'config.invalid');
    return e.detail?.problems as Array<{ variable: string; message: string }>;
  }
  assert.fail('expected config.invalid');
}

describe('loadConfig: filter worker', () => {
  it('has defaults: no internal domains, 50 MB limit, 1 MB in memory, both triggers, 100 clients, 300 s, pool of 10', () => {
    const c = loadConfig({});
    assert.deepEqual(c.internalDomains, []);
    assert.equal(c.filterMaxMessageSize, 50 * 1024 * 1024);
    assert.equal(c.filterSpillThreshold, 1024 * 1024);
    assert.deepEqual(c.filterSubjectTriggers, ['[secure]', '[暗号化]']);
    assert.equal(c.filterMaxClients, 100);
    assert.equal(c.filterTimeoutSeconds, 300);
    assert.equal(c.reinjectPoolSize, 10);
    assert.equal(c.filterProcesses, 'auto');
    assert.ok(Object.isFrozen(c.internalDomains) && Object.isFrozen(c.filterSubjectTriggers));
  });

  it('reads lists and sizes', () => {
    const c = loadConfig({
      INTERNAL_DOMAINS: 'Example.COM, corp.example.net. example.com',
      FILTER_MAX_MESSAGE_SIZE: '25MB',
      FILTER_SPILL_THRESHOLD: '256K',
      FILTER_SUBJECT_TRIGGERS: ' [encrypt] ,{secure}',
      FILTER_MAX_CLIENTS: '20',
      FILTER_TIMEOUT: '60',
      REINJECT_POOL_SIZE: '4',
    });
    assert.deepEqual(c.internalDomains, ['example.com', 'corp.example.net']);
    assert.equal(c.filterMaxMessageSize, 25 * 1024 * 1024);
    assert.equal(c.filterSpillThreshold, 256 * 1024);
    assert.deepEqual(c.filterSubjectTriggers, ['[encrypt]', '{secure}']);
    assert.equal(c.filterMaxClients, 20);
    assert.equal(c.filterTimeoutSeconds, 60);
    assert.equal(c.reinjectPoolSize, 4);
    assert.equal(loadConfig({ FILTER_MAX_MESSAGE_SIZE: '1048576' }).filterMaxMessageSize, 1048576);
    assert.deepEqual(loadConfig({ FILTER_SUBJECT_TRIGGERS: 'none' }).filterSubjectTriggers, []);
  });

  it('FILTER_PROCESSES: auto, a number, and more than one only with PostgreSQL', () => {
    assert.equal(loadConfig({ FILTER_PROCESSES: 'AUTO' }).filterProcesses, 'auto');
    assert.equal(loadConfig({ FILTER_PROCESSES: '1' }).filterProcesses, 1);
    assert.equal(loadConfig({ FILTER_PROCESSES: '4', DATABASE_URL: 'postgres://db.example/smimegw' }).filterProcesses, 4);
    const [p] = problemsOf({ FILTER_PROCESSES: '2' });
    assert.equal(p!.variable, 'FILTER_PROCESSES');
    assert.match(p!.message, /FILTER_PROCESSES=2 needs DATABASE_URL: the embedded database \(PGlite\) can be opened by one process only/);
    assert.match(problemsOf({ FILTER_PROCESSES: '0' })[0]!.message, /FILTER_PROCESSES must be a whole number from 1 to 64/);
  });

  it('names every bad value', () => {
    const problems = problemsOf({
      INTERNAL_DOMAINS: 'example.com, not_a_domain!',
      FILTER_MAX_MESSAGE_SIZE: '50 gigabytes',
      FILTER_SPILL_THRESHOLD: '12',
      FILTER_SUBJECT_TRIGGERS: ',,',
      FILTER_MAX_CLIENTS: '0',
      FILTER_TIMEOUT: '1.5',
      REINJECT_POOL_SIZE: '-3',
    });
    const byVar = new Map(problems.map((p) => [p.variable, p.message]));
    assert.match(byVar.get('INTERNAL_DOMAINS')!, /INTERNAL_DOMAINS must list domain names.*'not_a_domain!'/);
    assert.match(byVar.get('FILTER_MAX_MESSAGE_SIZE')!, /FILTER_MAX_MESSAGE_SIZE must be a size .*'50 gigabytes'/);
    assert.match(byVar.get('FILTER_SPILL_THRESHOLD')!, /FILTER_SPILL_THRESHOLD must be a size/);
    assert.match(byVar.get('FILTER_SUBJECT_TRIGGERS')!, /FILTER_SUBJECT_TRIGGERS must be words/);
    assert.match(byVar.get('FILTER_MAX_CLIENTS')!, /from 1 to 10000, got '0'/);
    assert.match(byVar.get('FILTER_TIMEOUT')!, /FILTER_TIMEOUT must be a whole number/);
    assert.match(byVar.get('REINJECT_POOL_SIZE')!, /REINJECT_POOL_SIZE must be a whole number/);
    assert.equal(problemsOf({ FILTER_MAX_MESSAGE_SIZE: '4G' })[0]!.variable, 'FILTER_MAX_MESSAGE_SIZE');
  });
});
