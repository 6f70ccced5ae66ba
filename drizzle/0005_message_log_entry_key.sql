ALTER TABLE "message_log" ADD COLUMN "entry_key" uuid;--> statement-breakpoint
CREATE UNIQUE INDEX "message_log_entry_key_idx" ON "message_log" USING btree ("entry_key");