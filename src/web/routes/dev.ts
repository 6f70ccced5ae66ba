/**
 * Development-only pages. GET /dev/outbox lists the mail the service would have sent (the
 * OutboxNotifier's table). createApp mounts this only when NODE_ENV is not production and no
 * NOTIFY_SMTP_URL is set; the route checks that again and answers 404 otherwise.
 */
import { Hono } from 'hono';
import type { Config } from '../../config/index.js';
import { AppError } from '../../shared/errors.js';
import { renderDocument } from '../pages/layout.js';
import { requestLocale, otherLocaleHref } from '../pages/locale.js';
import { OutboxPage, type OutboxMail } from '../pages/outbox.js';

export interface DevOutbox {
  recent(limit?: number): Promise<OutboxMail[]>;
}

/** True when the development outbox may be shown for this configuration. */
export function devOutboxAllowed(config: Pick<Config, 'nodeEnv' | 'notifySmtpUrl'>): boolean {
  return config.nodeEnv !== 'production' && config.notifySmtpUrl === undefined;
}

export function devRoutes(deps: { outbox: DevOutbox; config: Pick<Config, 'nodeEnv' | 'notifySmtpUrl'> }): Hono {
  const app = new Hono();
  app.get('/dev/outbox', async (c) => {
    if (!devOutboxAllowed(deps.config)) throw new AppError('http.not_found', 'Not found', { kind: 'not_found' });
    const locale = requestLocale(c);
    const mails = await deps.outbox.recent(50);
    return c.html(renderDocument(OutboxPage({ locale, switchHref: otherLocaleHref(c, locale), mails })));
  });
  return app;
}
