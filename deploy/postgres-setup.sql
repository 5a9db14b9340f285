-- The platform's database and roles (docs/deployment.md). Run once as a
-- PostgreSQL superuser:
--   psql -v workers=3 -v dbname=esp -f deploy/postgres-setup.sql
-- then, as the owner role, create or upgrade the schema:
--   ESP_COORD_DATABASE_URL=postgresql+psycopg://esp_owner@HOST/esp esp-coord migrate
-- and, after each migration, grant the workers the new tables (the last
-- block of this file, again: it is idempotent).
--
-- esp_owner owns the tables and runs the migrations; it is never used by a
-- worker. Each worker connects as its own role (esp_worker_1, ...), member of
-- esp_workers, which may read and write rows but not alter tables, and is
-- neither superuser nor BYPASSRLS: the row level security of every team table
-- (migration 0009) applies to it, so that a transaction sees only the team
-- it set. Give each role a password (or a client certificate) in
-- pg_hba.conf's terms; nothing here weakens authentication.

\if :{?workers}
\else
  \set workers 3
\endif
\if :{?dbname}
\else
  \set dbname esp
\endif

SELECT 'CREATE ROLE esp_owner LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'esp_owner') \gexec
SELECT 'CREATE ROLE esp_workers NOLOGIN NOSUPERUSER NOBYPASSRLS'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'esp_workers') \gexec
SELECT format('CREATE ROLE esp_worker_%s LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE esp_workers', n)
  FROM generate_series(1, :workers) AS n
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = format('esp_worker_%s', n)) \gexec
SELECT format('CREATE DATABASE %I OWNER esp_owner', :'dbname')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dbname') \gexec

\connect :dbname
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO esp_owner;
GRANT USAGE ON SCHEMA public TO esp_workers;

-- Grants on what the migrations created (run again after each migration).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO esp_workers;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO esp_workers;
ALTER DEFAULT PRIVILEGES FOR ROLE esp_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO esp_workers;
ALTER DEFAULT PRIVILEGES FOR ROLE esp_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO esp_workers;
