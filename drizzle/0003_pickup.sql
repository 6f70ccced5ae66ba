CREATE TABLE "blobs" (
	"key" text PRIMARY KEY NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pickup_access_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"pickup_id" uuid NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"action" text NOT NULL,
	"verified" boolean NOT NULL,
	"client_ip" text,
	"detail" jsonb
);
--> statement-breakpoint
CREATE TABLE "pickups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"sender_token_hash" text NOT NULL,
	"sender" text NOT NULL,
	"recipient" text NOT NULL,
	"subject" text,
	"mode" text DEFAULT 'code' NOT NULL,
	"password_hash" text,
	"blob_key" text,
	"wrapped_key" "bytea",
	"size_bytes" integer NOT NULL,
	"locale" text,
	"failed_attempts" integer DEFAULT 0 NOT NULL,
	"locked_at" timestamp with time zone,
	"downloads" integer DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pickups_token_hash_unique" UNIQUE("token_hash"),
	CONSTRAINT "pickups_sender_token_hash_unique" UNIQUE("sender_token_hash")
);
--> statement-breakpoint
CREATE INDEX "pickup_access_log_pickup_idx" ON "pickup_access_log" USING btree ("pickup_id","at");--> statement-breakpoint
CREATE INDEX "pickups_expires_idx" ON "pickups" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "pickups_recipient_idx" ON "pickups" USING btree ("recipient");