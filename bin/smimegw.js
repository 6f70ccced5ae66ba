#!/usr/bin/env node
// The smimegw command: runs the TypeScript sources through tsx (a runtime dependency).
import { register } from 'tsx/esm/api';
register();
const { runCli, processIO } = await import('../src/cli.ts');
process.exitCode = await runCli(process.argv.slice(2), processIO);
