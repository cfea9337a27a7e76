# Logical decoding on a server with lsm tables.  A slot (test_decoding) reads
# every change of a heap table written beside an lsm table, through lsm
# flushes, compactions and lsm_am's own WAL records, before and after a
# crash; of the lsm table it shows nothing but lsm_am's empty messages: its
# writes are generic WAL records, which logical decoding skips (so
# publications refuse them: pg_regress lsm_publication).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('logical');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'lsm_am'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE kv (k int, v text) USING lsm;
	CREATE TABLE h (k int PRIMARY KEY, v text);
	SELECT pg_create_logical_replication_slot('s', 'test_decoding');
});

# Transactions writing both tables, one rolled back, one with a released
# subtransaction, one writing only the lsm table, with flushes and a full
# compaction (lsm_am's manifest records) between them.
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO kv SELECT g, 'a' || g FROM generate_series(1, 1000) g;
	INSERT INTO h VALUES (1, 'one');
	COMMIT;
	SELECT lsm_flush('kv');
	BEGIN;
	UPDATE kv SET v = 'b' WHERE k <= 10;
	INSERT INTO h VALUES (2, 'two');
	ROLLBACK;
	BEGIN;
	DELETE FROM kv WHERE k > 990;
	SAVEPOINT s1;
	INSERT INTO kv VALUES (5000, 'x');
	INSERT INTO h VALUES (3, 'three');
	RELEASE s1;
	COMMIT;
	INSERT INTO kv SELECT g, 'c' FROM generate_series(2001, 3000) g;
	SELECT lsm_flush('kv');
	SELECT lsm_compact('kv');
	INSERT INTO h VALUES (4, 'four');
});

# The slot's changes, without transaction ids (they differ run to run).
sub changes
{
	my $out = $node->safe_psql('postgres', q{
		SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL,
			'include-xids', '0', 'skip-empty-xacts', '1')});
	return split /\n/, $out;
}

# Checks one batch of changes: the heap rows expected, in order, and of the
# lsm table only lsm_am's empty non-transactional messages.
sub check_changes
{
	my ($what, $heap_rows, @lines) = @_;
	my @rows = grep { /^table / } @lines;
	my @messages = grep { /^message: / } @lines;

	is_deeply(\@rows,
		[ map { "table public.h: INSERT: k[integer]:$_->[0] v[text]:'$_->[1]'" } @$heap_rows ],
		"$what: the slot has every committed heap row, in order");
	is(scalar(grep { /kv/ } @lines), 0, "$what: nothing of the lsm table");
	ok(@messages > 0, "$what: lsm_am's messages are there");
	is(scalar(grep { $_ ne 'message: transactional: 0 prefix: lsm_am, sz: 0 content:' } @messages),
		0, "$what: each is lsm_am's empty non-transactional message");
	is(scalar(grep { !/^(BEGIN|COMMIT|table |message: )/ } @lines), 0,
		"$what: nothing else");
}

check_changes('before a crash', [ [ 1, 'one' ], [ 3, 'three' ], [ 4, 'four' ] ], changes());

# More writes, the server killed before any flush, and the slot read again
# after recovery.  The checkpoint saves the slot's position: a slot whose
# reads a crash forgot sends those changes again, as for any table.
$node->safe_psql('postgres', 'CHECKPOINT');
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO kv SELECT g, 'd' FROM generate_series(3001, 3500) g;
	INSERT INTO h VALUES (5, 'five');
	COMMIT;
	UPDATE kv SET v = 'e' WHERE k BETWEEN 2001 AND 2100;
	INSERT INTO h VALUES (6, 'six');
});
$node->stop('immediate');
$node->start;
check_changes('after a crash', [ [ 5, 'five' ], [ 6, 'six' ] ], changes());

# The lsm table itself holds what was committed.
is($node->safe_psql('postgres', q{
	SELECT count(*), count(*) FILTER (WHERE v = 'e'), sum(k) FROM kv}),
	'2491|100|4621295', 'the lsm table holds every committed row');
is($node->safe_psql('postgres', "SELECT count(*) FROM lsm_verify('kv')"),
	'0', 'lsm_verify finds no problem');

$node->stop;
done_testing();
