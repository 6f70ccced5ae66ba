/**
 * A `Db` that stands for "the current request's database connection". Workers may not use a socket
 * opened while serving one request from another request, so the Workers entry opens a connection per
 * request and runs the request inside `scope.run(db, ...)`; the services, built once per isolate,
 * hold this handle and reach the right connection through it. Outside a scope it throws, so a
 * query can never silently use another request's connection.
 */
import type { Db } from './connection.js';

export interface DbScope {
  /** The connection of the request being served, or undefined outside one. */
  current(): Db | undefined;
}

export function requestScopedDb(scope: DbScope): Db {
  const target = (): Db => {
    const db = scope.current();
    if (!db) throw new Error('database used outside a request scope');
    return db;
  };
  return new Proxy({} as Db, {
    get(_t, property) {
      const db = target();
      const value = Reflect.get(db, property, db) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(db) : value;
    },
    has(_t, property) {
      return Reflect.has(target(), property);
    },
  });
}
