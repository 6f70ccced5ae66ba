CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"subject" text,
	"detail" jsonb
);
--> statement-breakpoint
CREATE TABLE "certificates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"fingerprint_sha256" text NOT NULL,
	"email" text NOT NULL,
	"serial_hex" text,
	"issuer_dn" text,
	"subject_dn" text,
	"not_before" timestamp with time zone,
	"not_after" timestamp with time zone,
	"source" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"der" "bytea",
	"capabilities" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "certificates_fingerprint_sha256_unique" UNIQUE("fingerprint_sha256"),
	CONSTRAINT "certificates_source_check" CHECK ("certificates"."source" in ('issued', 'uploaded', 'harvested', 'imported')),
	CONSTRAINT "certificates_status_check" CHECK ("certificates"."status" in ('active', 'revoked', 'superseded', 'pending')),
	CONSTRAINT "certificates_email_check" CHECK ("certificates"."email" ~ '^.+@[^@A-Z]+$'),
	CONSTRAINT "certificates_fingerprint_check" CHECK ("certificates"."fingerprint_sha256" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "certificates_email_idx" ON "certificates" USING btree ("email");