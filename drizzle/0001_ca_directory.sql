CREATE TABLE "admin_sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"csrf_token" text NOT NULL,
	"second_factor_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"client_ip" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "admin_users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"username" text NOT NULL,
	"password_hash" text NOT NULL,
	"totp_secret_encrypted" "bytea",
	"role" text NOT NULL,
	"disabled" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "admin_users_username_unique" UNIQUE("username")
);
--> statement-breakpoint
CREATE TABLE "authorities" (
	"id" text PRIMARY KEY NOT NULL,
	"cert_der" "bytea" NOT NULL,
	"key_encrypted" "bytea",
	"signer" text DEFAULT 'software' NOT NULL,
	"parent_id" text,
	"development" boolean DEFAULT false NOT NULL,
	"crl_number" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certificate_addresses" (
	"certificate_id" uuid NOT NULL,
	"address" text NOT NULL,
	CONSTRAINT "certificate_addresses_certificate_id_address_pk" PRIMARY KEY("certificate_id","address")
);
--> statement-breakpoint
CREATE TABLE "crl_cache" (
	"url" text PRIMARY KEY NOT NULL,
	"issuer_dn" text,
	"der" "bytea" NOT NULL,
	"this_update" timestamp with time zone,
	"next_update" timestamp with time zone,
	"fetched_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "crls" (
	"authority_id" text NOT NULL,
	"number" bigint NOT NULL,
	"this_update" timestamp with time zone NOT NULL,
	"next_update" timestamp with time zone NOT NULL,
	"der" "bytea" NOT NULL,
	CONSTRAINT "crls_authority_id_number_pk" PRIMARY KEY("authority_id","number")
);
--> statement-breakpoint
CREATE TABLE "directory_version" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"version" bigint DEFAULT 0 NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mailbox_challenges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"address" text NOT NULL,
	"purpose" text NOT NULL,
	"code_hash" text NOT NULL,
	"token_hash" text,
	"locale" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"verified_at" timestamp with time zone,
	"token_expires_at" timestamp with time zone,
	"used_at" timestamp with time zone,
	"client_ip" text,
	"payload" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mailbox_challenges_purpose_check" CHECK ("mailbox_challenges"."purpose" in ('enroll', 'upload', 'revoke', 'renew', 'pickup'))
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"to" text NOT NULL,
	"subject" text NOT NULL,
	"text" text NOT NULL,
	"html" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"count" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recipient_capabilities" (
	"address" text PRIMARY KEY NOT NULL,
	"capabilities" jsonb NOT NULL,
	"signing_time" timestamp with time zone NOT NULL,
	"certificate_fingerprint" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "trusted_roots" (
	"fingerprint_sha256" text PRIMARY KEY NOT NULL,
	"subject_dn" text NOT NULL,
	"der" "bytea" NOT NULL,
	"added_by" text NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "hash" text;--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "prev_hash" text;--> statement-breakpoint
ALTER TABLE "certificates" ADD COLUMN "authority_id" text;--> statement-breakpoint
ALTER TABLE "certificates" ADD COLUMN "revoked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "certificates" ADD COLUMN "revocation_reason" text;--> statement-breakpoint
ALTER TABLE "certificates" ADD COLUMN "reminded_30_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "certificates" ADD COLUMN "reminded_7_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "admin_sessions" ADD CONSTRAINT "admin_sessions_user_id_admin_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."admin_users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certificate_addresses" ADD CONSTRAINT "certificate_addresses_certificate_id_certificates_id_fk" FOREIGN KEY ("certificate_id") REFERENCES "public"."certificates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "certificate_addresses_address_idx" ON "certificate_addresses" USING btree ("address");--> statement-breakpoint
CREATE INDEX "mailbox_challenges_address_idx" ON "mailbox_challenges" USING btree ("address","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "mailbox_challenges_token_idx" ON "mailbox_challenges" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "certificates_serial_idx" ON "certificates" USING btree ("authority_id","serial_hex");--> statement-breakpoint
CREATE INDEX "certificates_not_after_idx" ON "certificates" USING btree ("not_after");--> statement-breakpoint
INSERT INTO "directory_version" ("id", "version") VALUES (1, 0) ON CONFLICT DO NOTHING;
