/**
 * BlobStore over the `blobs` table (PostgreSQL or PGlite): the default store for the encrypted
 * messages of secure pickup. Deleting removes the row (the bytes are gone from the table; PostgreSQL
 * reclaims the space at the next VACUUM).
 */
import { eq } from 'drizzle-orm';
import type { BlobStore } from '../pickup/ports.js';
import type { Db } from './connection.js';
import { blobs } from './schema.js';

export class DbBlobStore implements BlobStore {
  constructor(private readonly db: Db) {}

  async put(key: string, data: Uint8Array): Promise<void> {
    await this.db.insert(blobs).values({ key, data }).onConflictDoUpdate({ target: blobs.key, set: { data } });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const r = await this.db.select({ data: blobs.data }).from(blobs).where(eq(blobs.key, key));
    return r[0]?.data;
  }

  async delete(key: string): Promise<void> {
    await this.db.delete(blobs).where(eq(blobs.key, key));
  }
}
