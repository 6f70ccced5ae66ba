CREATE TABLE "message_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"reference" text,
	"sender" text NOT NULL,
	"recipients" jsonb NOT NULL,
	"size_in" integer NOT NULL,
	"size_out" integer,
	"duration_ms" integer,
	"result" text NOT NULL,
	"smtp_reply" text
);
--> statement-breakpoint
CREATE TABLE "policies" (
	"scope" text PRIMARY KEY NOT NULL,
	"encrypt_mode" text,
	"sign" boolean,
	"fallback_link" boolean,
	"updated_by" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "policies_encrypt_mode_check" CHECK ("policies"."encrypt_mode" is null or "policies"."encrypt_mode" in ('none', 'opportunistic', 'mandatory'))
);
--> statement-breakpoint
CREATE TABLE "signing_identities" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"address" text NOT NULL,
	"cert_der" "bytea" NOT NULL,
	"chain" jsonb NOT NULL,
	"key_encrypted" "bytea" NOT NULL,
	"fingerprint_sha256" text NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"source" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "signing_identities_fingerprint_sha256_unique" UNIQUE("fingerprint_sha256")
);
--> statement-breakpoint
CREATE INDEX "message_log_received_idx" ON "message_log" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "message_log_sender_idx" ON "message_log" USING btree ("sender");--> statement-breakpoint
CREATE INDEX "signing_identities_address_idx" ON "signing_identities" USING btree ("address");