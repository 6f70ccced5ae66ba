/**
 * What relying parties fetch from the CA, over plain HTTP (the content is signed):
 *   GET  /crl/root.crl, /crl/issuing.crl    DER CRLs (application/pkix-crl)
 *   GET  /ca/root.crt, /ca/issuing.crt      DER CA certificates (application/pkix-cert; the AIA caIssuers URLs)
 *   POST /ocsp                              RFC 6960 request body (application/ocsp-request)
 *   GET  /ocsp/<base64 request>             RFC 6960 A.1 GET form (URL-encoded base64 or base64url)
 * OCSP always answers 200 with an OCSPResponse, malformedRequest for what cannot be read.
 */
import { Hono, type Context } from 'hono';
import type { Authority } from '../../ca/authority.js';
import { fromBase64 } from '../../shared/bytes.js';
import { AppError } from '../../shared/errors.js';

export type PkiAuthority = Pick<Authority, 'crl' | 'caCertificate' | 'ocsp'>;

/** Largest OCSP request body read (RFC 5019 requests are about 100 bytes). */
export const MAX_OCSP_BODY = 8 * 1024;

/** OCSPResponse { responseStatus malformedRequest(1) }. */
const MALFORMED = Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x01);

function der(c: Context, body: Uint8Array, type: string, maxAge: number): Response {
  c.header('Cache-Control', `public, max-age=${maxAge}, no-transform`);
  return c.body(body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': type });
}

function authorityId(file: string): 'root' | 'issuing' {
  const id = file.replace(/\.(crl|crt)$/, '');
  if (id === 'root' || id === 'issuing') return id;
  throw new AppError('http.not_found', `Not found: there is no CA '${id}'; the CAs are root and issuing (e.g. /crl/issuing.crl, /ca/root.crt)`, { kind: 'not_found' });
}

export function pkiRoutes(deps: { authority: PkiAuthority }): Hono {
  const app = new Hono();

  app.get('/crl/:file{(root|issuing)\\.crl}', async (c) => der(c, await deps.authority.crl(authorityId(c.req.param('file'))), 'application/pkix-crl', 300));

  app.get('/ca/:file{(root|issuing)\\.crt}', (c) => der(c, deps.authority.caCertificate(authorityId(c.req.param('file'))).der, 'application/pkix-cert', 86_400));

  const answer = async (c: Context, request: Uint8Array | undefined, cacheable: boolean) => {
    const response = request ? await deps.authority.ocsp(request) : MALFORMED;
    return der(c, response, 'application/ocsp-response', cacheable ? 300 : 0);
  };

  for (const path of ['/ocsp', '/ocsp/']) {
    app.post(path, async (c) => {
      const length = Number(c.req.header('content-length') ?? '0');
      if (length > MAX_OCSP_BODY) return answer(c, undefined, false);
      const body = new Uint8Array(await c.req.arrayBuffer());
      return answer(c, body.length > 0 && body.length <= MAX_OCSP_BODY ? body : undefined, false);
    });
  }

  app.get('/ocsp/*', async (c) => {
    const raw = new URL(c.req.url).pathname.slice('/ocsp/'.length);
    let request: Uint8Array | undefined;
    try {
      const b64 = decodeURIComponent(raw);
      if (b64.length > 0 && b64.length <= (MAX_OCSP_BODY * 4) / 3 + 4) request = fromBase64(b64);
    } catch {
      request = undefined;
    }
    return answer(c, request, true);
  });

  return app;
}
