# pg_dump and pg_restore of lsm tables.
#
# A database with lsm tables keyed by several types (integer, text under
# "C", uuid, numeric, timestamptz, and a type with no key encoder, which
# gives a table in row-id order), with a primary key, unique and secondary
# indexes, CHECK, NOT NULL and foreign-key constraints, a partitioned table
# with lsm partitions and a materialized view stored as lsm, and rows both
# flushed to runs and still only in the memtable (updated and deleted ones
# too), is dumped in the custom format and as plain SQL and restored into
# new databases: pg_restore (also with two jobs) and psql.  Each restored
# database must hold the extension (created by the dump), lsm tables where
# the original has them, the same rows in the same scan order, working
# indexes (the planner uses them and they return the same rows) and
# enforced constraints.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_restore');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 32MB
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
	CREATE EXTENSION lsm_am;

	CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL,
		balance numeric CHECK (balance >= 0), email text UNIQUE) USING lsm;
	CREATE INDEX accounts_name ON accounts (name);

	CREATE TABLE words (w text COLLATE "C", n int, note text) USING lsm;
	CREATE UNIQUE INDEX words_w ON words (w);

	CREATE TABLE things (u uuid, account int REFERENCES accounts (id), v bytea) USING lsm;
	CREATE INDEX things_account ON things (account);

	CREATE TABLE amounts (a numeric, label text) USING lsm;
	CREATE TABLE events (at timestamptz NOT NULL, kind smallint, payload jsonb) USING lsm;
	CREATE INDEX events_kind ON events (kind) WHERE kind > 5;

	-- no key encoder for int4range: rows in insertion (row id) order
	CREATE TABLE ranges (r int4range, id int) USING lsm;

	CREATE TABLE parted (k bigint, v text) PARTITION BY RANGE (k);
	CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (5000) USING lsm;
	CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (5000) TO (10000) USING lsm;

	CREATE TABLE plain_heap (k int PRIMARY KEY, v text) USING heap;
});

# First part of the data, flushed to runs (and compacted), then more that
# stays in the memtables and the log, with updates and deletes of both.
$node->safe_psql('src', q{
	INSERT INTO accounts SELECT g, 'name ' || (g % 500), g * 1.5, 'u' || g || '@example.org'
		FROM generate_series(1, 3000) g;
	INSERT INTO words SELECT md5(g::text), g, repeat('x', g % 50) FROM generate_series(1, 3000) g;
	INSERT INTO things SELECT md5('t' || g)::uuid, 1 + g % 3000, decode(md5(g::text), 'hex')
		FROM generate_series(1, 3000) g;
	INSERT INTO amounts SELECT (g - 1500) / 7.0, 'a' || g FROM generate_series(1, 3000) g;
	INSERT INTO amounts VALUES ('NaN', 'nan'), (NULL, 'null');
	INSERT INTO events SELECT '2020-01-01 00:00:00+00'::timestamptz + g * interval '37 minutes',
		g % 10, jsonb_build_object('g', g) FROM generate_series(1, 3000) g;
	INSERT INTO ranges SELECT int4range(g, g + 10), g FROM generate_series(3000, 1, -1) g;
	INSERT INTO parted SELECT g, 'p' || g FROM generate_series(0, 9999, 3) g;
	INSERT INTO plain_heap SELECT g, 'h' || g FROM generate_series(1, 100) g;
	SELECT lsm_flush(c) FROM unnest(ARRAY['accounts', 'words', 'things', 'amounts', 'events',
		'ranges', 'parted_1', 'parted_2']::regclass[]) c;
	SELECT lsm_compact('accounts');
});
$node->safe_psql('src', q{
	INSERT INTO accounts SELECT g, 'late ' || g, g, NULL FROM generate_series(3001, 4000) g;
	UPDATE accounts SET balance = balance + 1, name = 'updated' WHERE id % 11 = 0;
	DELETE FROM accounts WHERE id % 13 = 0 AND id NOT IN (SELECT account FROM things);
	INSERT INTO words VALUES ('', 0, 'empty'), ('zzz', -1, NULL), ('ZZZ', -2, 'upper');
	UPDATE words SET note = 'changed' WHERE n % 7 = 0;
	DELETE FROM words WHERE n % 17 = 0;
	INSERT INTO things SELECT md5('late' || g)::uuid, NULL, NULL FROM generate_series(1, 500) g;
	DELETE FROM things WHERE account % 9 = 0;
	INSERT INTO amounts VALUES (-1e30, 'small'), (1e30, 'big'), (0, 'zero'), (-0.0, 'minus zero');
	UPDATE amounts SET label = label || '!' WHERE a > 100;
	INSERT INTO events SELECT '1999-12-31 23:59:59.999999+00'::timestamptz - g * interval '1 day',
		g % 10, NULL FROM generate_series(1, 200) g;
	DELETE FROM events WHERE kind = 3;
	INSERT INTO ranges VALUES ('empty', 0), (NULL, -1), ('[1,2)', 1);
	UPDATE ranges SET id = -id WHERE id % 5 = 0;
	INSERT INTO parted SELECT g, 'late' || g FROM generate_series(1, 9999, 7) g;
	DELETE FROM parted WHERE k % 10 = 1;
	CREATE MATERIALIZED VIEW mv USING lsm AS
		SELECT kind, count(*) AS n, min(at) AS first FROM events GROUP BY kind;
});
is($node->safe_psql('src', "SELECT count(*) > 0 FROM lsm_memtables('accounts') WHERE entries > 0"),
	't', 'part of the data is still only in the memtable when it is dumped');

my @tables = qw(accounts words things amounts events ranges parted parted_1 parted_2 mv plain_heap);

# Every table's rows in scan order (an lsm table's own order: key, then row
# id), as one text per table.
sub contents
{
	my ($db) = @_;
	my %c;
	for my $t (@tables)
	{
		$c{$t} = $node->safe_psql($db,
			"SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\\n')), '') FROM (SELECT * FROM $t) x");
	}
	return \%c;
}

# Queries that must be answered through an index, with their index.  Key
# restrictions on an lsm table would go to LsmScan (lsm.enable_lsmscan), not
# to an index on its key, so that is off here.
my @index_queries = (
	[ 'accounts_pkey', 'SELECT * FROM accounts WHERE id = 2222' ],
	[ 'accounts_pkey', 'SELECT * FROM accounts WHERE id BETWEEN 3500 AND 3520 ORDER BY id' ],
	[ 'accounts_email_key', q{SELECT * FROM accounts WHERE email = 'u77@example.org'} ],
	[ 'accounts_name', q{SELECT id FROM accounts WHERE name = 'name 42' ORDER BY id} ],
	[ 'words_w', q{SELECT * FROM words WHERE w = md5('1234')} ],
	[ 'things_account', 'SELECT u FROM things WHERE account = 77 ORDER BY u' ],
	[ 'events_kind', 'SELECT count(*) FROM events WHERE kind = 7' ],
);

sub index_answers
{
	my ($db) = @_;
	my @answers;
	for my $q (@index_queries)
	{
		my ($index, $sql) = @$q;
		my $plan = $node->safe_psql($db, "SET enable_seqscan = off; SET enable_bitmapscan = off; SET lsm.enable_lsmscan = off; EXPLAIN (COSTS OFF) $sql");
		like($plan, qr/Index Scan using $index\b/, "$db: the planner uses $index");
		push @answers, $node->safe_psql($db, "SET enable_seqscan = off; SET enable_bitmapscan = off; SET lsm.enable_lsmscan = off; $sql");
	}
	return \@answers;
}

sub ams
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
		SELECT string_agg(c.relname || '=' || coalesce(a.amname, '-'), ' ' ORDER BY c.relname)
		FROM pg_class c LEFT JOIN pg_am a ON a.oid = c.relam
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'm', 'p')});
}

my $want = contents('src');
my $want_idx = index_answers('src');
my $want_ams = ams('src');
like($want_ams, qr/accounts=lsm .*mv=lsm .*parted_1=lsm .*plain_heap=heap/, 'the source tables use lsm');

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $port = $node->port;
my $host = $node->host;

$node->command_ok([ 'pg_dump', '-h', $host, '-p', $port, '-Fc', '-f', "$tmp/src.dump", 'src' ],
	'pg_dump -Fc');
$node->command_ok([ 'pg_dump', '-h', $host, '-p', $port, '-f', "$tmp/src.sql", 'src' ],
	'pg_dump, plain');
my $plain = slurp_file("$tmp/src.sql");
like($plain, qr/^CREATE EXTENSION IF NOT EXISTS lsm_am /m, 'the dump creates the extension');
like($plain, qr/^SET default_table_access_method = lsm;\n\n--\n-- Name: accounts;/m,
	'the dump creates lsm tables with the lsm access method');
like($plain, qr/^SET default_table_access_method = heap;\n\n--\n-- Name: plain_heap;/m,
	'and heap tables with heap');

# Restores: pg_restore, pg_restore with two jobs, psql on the plain dump.
my @restores = (
	[ 'custom', [ 'pg_restore', '-h', $host, '-p', $port, '-d', 'custom', "$tmp/src.dump" ] ],
	[ 'custom_j2', [ 'pg_restore', '-h', $host, '-p', $port, '-j', '2', '-d', 'custom_j2', "$tmp/src.dump" ] ],
	[ 'plain', [ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $host, '-p', $port, '-d', 'plain', '-f', "$tmp/src.sql" ] ],
);
for my $r (@restores)
{
	my ($db, $cmd) = @$r;
	$node->safe_psql('postgres', "CREATE DATABASE $db TEMPLATE template0");
	$node->command_ok($cmd, "restore into $db");
	is(ams($db), $want_ams, "$db: every table has the original's access method");
	is($node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'lsm_am'"),
		'0.1', "$db: the extension was created");
	my $got = contents($db);
	for my $t (@tables)
	{
		is($got->{$t}, $want->{$t}, "$db: $t has the original's rows in the same order");
	}
	is_deeply(index_answers($db), $want_idx, "$db: the indexes give the original's answers");

	# Constraints are enforced.
	my ($ret, $out, $err) = $node->psql($db, "INSERT INTO accounts VALUES (1, 'dup', 1, NULL)");
	like($err, qr/duplicate key value violates unique constraint "accounts_pkey"/, "$db: primary key enforced");
	($ret, $out, $err) = $node->psql($db, "INSERT INTO words VALUES (md5('5'), 0, NULL)");
	like($err, qr/duplicate key value violates unique constraint "words_w"/, "$db: unique index enforced");
	($ret, $out, $err) = $node->psql($db, "INSERT INTO accounts VALUES (-5, 'neg', -1, NULL)");
	like($err, qr/violates check constraint "accounts_balance_check"/, "$db: CHECK enforced");
	($ret, $out, $err) = $node->psql($db, "INSERT INTO things VALUES (gen_random_uuid(), -77, NULL)");
	like($err, qr/violates foreign key constraint "things_account_fkey"/, "$db: foreign key enforced");
	($ret, $out, $err) = $node->psql($db, "DELETE FROM accounts WHERE id = (SELECT min(account) FROM things)");
	like($err, qr/violates foreign key constraint "things_account_fkey"/, "$db: foreign key enforced on delete");

	# The restored tables take writes, flushes and compaction.
	is($node->safe_psql($db, q{
		INSERT INTO accounts VALUES (100000, 'new', 5, 'new@example.org');
		UPDATE accounts SET balance = 0 WHERE id = 2;
		DELETE FROM words WHERE n = 3;
		SELECT count(lsm_flush(c)) FROM unnest('{accounts,words}'::regclass[]) c;
		SELECT lsm_compact('accounts');
		SET enable_seqscan = off;
		SELECT (SELECT balance FROM accounts WHERE id = 2) || ' ' ||
			(SELECT name FROM accounts WHERE email = 'new@example.org') || ' ' ||
			(SELECT count(*) FROM words WHERE n = 3);
	}), "2\n\n0 new 0", "$db: the restored tables take writes");
}

$node->stop;
done_testing();
