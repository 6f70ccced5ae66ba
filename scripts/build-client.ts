/**
 * Bundles the browser code (src/web/client/*.ts) with esbuild into dist/client/ (gitignored).
 * `npm run build:client`; also run by `prestart`, by the e2e test, and in memory by the Node
 * entry point when dist/client/ is missing. The bundles import only runtime-agnostic modules
 * (WebCrypto, no node:), which esbuild enforces with platform 'browser'.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLIENT_OUT_DIR = join(ROOT, 'dist', 'client');
/** Bundle file name -> entry source, relative to the repository root. */
export const CLIENT_ENTRIES: Readonly<Record<string, string>> = { 'enroll.js': 'src/web/client/enroll.ts' };

/** Builds every bundle; returns file name -> JavaScript source. Writes them to `outDir` when given. */
export async function buildClient(options: { outDir?: string } = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, entry] of Object.entries(CLIENT_ENTRIES)) {
    const r = await build({
      entryPoints: [join(ROOT, entry)],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
      minify: true,
      legalComments: 'none',
      logLevel: 'silent',
    });
    const file = r.outputFiles[0];
    if (!file) throw new Error(`esbuild produced nothing for ${entry}`);
    out[name] = file.text;
    if (options.outDir) {
      const path = join(options.outDir, name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.text);
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const bundles = await buildClient({ outDir: CLIENT_OUT_DIR });
  for (const [name, text] of Object.entries(bundles)) console.log(`build-client: dist/client/${name} (${text.length} bytes)`);
}
