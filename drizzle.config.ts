import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations and their metadata to drizzle/.
// They are applied at start-up by src/db/connection.ts (for PGlite and PostgreSQL alike).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
