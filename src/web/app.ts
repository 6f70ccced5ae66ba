/**
 * The HTTP application (Hono). Runtime-agnostic: no node: imports; the entry point decides how it
 * is served. It sees the database only through the small interface below.
 */
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Config } from '../config/index.js';
import { AppError, toAppError } from '../shared/errors.js';

export interface AppDatabase {
  kind: 'pglite' | 'postgres';
  /** Resolves when the database answers; rejects otherwise. */
  ping(): Promise<void>;
}

export interface AppDeps {
  db: AppDatabase;
  config: Config;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.get('/healthz', async (c) => {
    try {
      await deps.db.ping();
    } catch {
      return c.json({ status: 'error', db: deps.db.kind }, 503);
    }
    return c.json({ status: 'ok', db: deps.db.kind });
  });

  app.notFound((c) => c.json(new AppError('http.not_found', 'Not found', { kind: 'not_found' }).toJSON(), 404));

  app.onError((err, c) => {
    const e = toAppError(err);
    if (e.kind === 'internal') console.error(`${c.req.method} ${c.req.path}:`, err);
    return c.json(e.toJSON(), e.status as ContentfulStatusCode);
  });

  return app;
}
