/** dist/client/assets.mjs (scripts/build-client.ts), aliased in wrangler.toml for the Workers entry. */
declare module 'smimegw-client-assets' {
  const assets: Readonly<Record<string, string>>;
  export default assets;
}
