CREATE TYPE "public"."category" AS ENUM('ELECTRONICS', 'BOOKS', 'CLOTHING', 'HOME');--> statement-breakpoint
CREATE TABLE "items" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"sku" varchar(6) NOT NULL,
	"name" varchar(200) NOT NULL,
	"description" varchar(500),
	"price_cents" integer NOT NULL,
	"category" "category" NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"stock" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "items_sku_unique" UNIQUE("sku"),
	CONSTRAINT "items_price_positive" CHECK ("items"."price_cents" > 0 AND "items"."price_cents" <= 1000000),
	CONSTRAINT "items_stock_non_negative" CHECK ("items"."stock" >= 0)
);
--> statement-breakpoint
CREATE INDEX "items_created_at_id_idx" ON "items" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "items_name_id_idx" ON "items" USING btree ("name","id");--> statement-breakpoint
CREATE INDEX "items_price_id_idx" ON "items" USING btree ("price_cents","id");