# Space after VACUUM.
#
# An lsm table of 200,000 rows (about 120 bytes each) has every row updated
# four times and half of them deleted; background compaction runs meanwhile.
# VACUUM then removes the dead versions, and later VACUUMs (each after other
# transactions have moved the xid horizon past the pages the previous one
# freed) move the data, the log and the manifest into free pages at the
# front and give the pages at the end back to the file system.  The data
# left and the whole file must then be within twice the size of a heap table
# holding the same live rows, freshly loaded; the ratios are printed.  While
# a snapshot older than the freed pages is open, nothing is given back.  The
# rows equal the heap table's throughout, and an index on the table answers
# the same.  Then three more rounds overwrite and delete most rows (on the
# lsm table and on the heap table alike) and VACUUM three times: each time
# the file comes back within twice the live data, and lsm_verify finds every
# page owned once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('vacuum_space');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (id bigint, n int, pad text) USING lsm;
	CREATE INDEX t_n ON t (n);
	INSERT INTO t SELECT g, 0, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)
		FROM generate_series(1, 200000) g;
});
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', 'UPDATE t SET n = n + 1');
}
$node->safe_psql('postgres', qq{
	UPDATE t SET n = n + 1, pad = md5(pad) || md5(pad || 'a') || md5(pad || 'b');
	DELETE FROM t WHERE id % 2 = 0;
	CREATE TABLE h AS SELECT * FROM t;
});

my $heap = $node->safe_psql('postgres', "SELECT pg_relation_size('h')");
my $before = $node->safe_psql('postgres', "SELECT pg_relation_size('t')");
note "after the workload: lsm $before bytes, heap copy of the live rows $heap bytes";

sub same_as_heap
{
	my ($what) = @_;
	is($node->safe_psql('postgres', qq{
		SELECT NOT EXISTS (TABLE t EXCEPT ALL TABLE h)
		   AND NOT EXISTS (TABLE h EXCEPT ALL TABLE t)}), 't',
		"$what: the lsm table holds the heap table's rows");
	return;
}

sub vacuum_round
{
	my ($i) = @_;
	$node->safe_psql('postgres', 'VACUUM t');
	# other work moves the xid horizon past the pages this VACUUM freed
	$node->safe_psql('postgres', 'SELECT txid_current()');
	my $size = $node->safe_psql('postgres', "SELECT pg_relation_size('t')");
	note sprintf('after VACUUM %d: %d bytes, %.2f times the heap copy', $i, $size, $size / $heap);
	return $size;
}

# A snapshot older than the pages the first VACUUM frees keeps them.
my ($in, $out, $err) = ('', '', '');
my $reader = IPC::Run::start(
	[ 'psql', '-X', '-At', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT 'snapshot ' || count(*) FROM t;\n";
$reader->pump until $out =~ /snapshot \d+/;
my ($held) = $out =~ /snapshot (\d+)/;

my $size = vacuum_round(1);
my $size_held = vacuum_round(2);
cmp_ok($size_held, '>=', $size,
	'while an older snapshot is open no freed page is given back');
$in .= "SELECT 'again ' || count(*) FROM t;\n";
$reader->pump until $out =~ /again \d+/;
my ($again) = $out =~ /again (\d+)/;
is($again, $held, 'the old snapshot still reads all its rows');
$in .= "COMMIT;\n\\q\n";
$reader->finish;
same_as_heap('after two VACUUMs under an old snapshot');

for my $i (3 .. 6)
{
	$size = vacuum_round($i);
}
same_as_heap('after four more VACUUMs');
my $runs = $node->safe_psql('postgres', "SELECT sum(bytes) FROM lsm_levels('t')");
diag sprintf('space: lsm file %d bytes after VACUUM (%.2fx the heap copy of the live rows, %d bytes; %.2fx before VACUUM), runs %d bytes (%.2fx)',
	$size, $size / $heap, $heap, $before / $heap, $runs, $runs / $heap);
cmp_ok($runs / $heap, '<=', 2.0, 'the data left is within twice the live data size of heap');
cmp_ok($size, '<', $before, 'VACUUM gave pages back to the file system');
cmp_ok($size / $heap, '<=', 2.0, 'the file is within twice the live data size of heap');
is($node->safe_psql('postgres', qq{
	SELECT sum(entries) = 2 * (SELECT count(*) FROM t) FROM lsm_levels('t')}), 't',
	'one VALUE and one row-map entry per row remain');
is($node->safe_psql('postgres', qq{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*) || ' ' || sum(id) FROM t WHERE n = 4}),
	$node->safe_psql('postgres', "SELECT count(*) || ' ' || sum(id) FROM h WHERE n = 4"),
	'the index answers as the heap table');

# Writes keep working in the shrunken table.
$node->safe_psql('postgres', qq{
	INSERT INTO t SELECT g, 9, 'late' FROM generate_series(300001, 310000) g;
	INSERT INTO h SELECT g, 9, 'late' FROM generate_series(300001, 310000) g;
	UPDATE t SET n = 10 WHERE id % 7 = 0;
	UPDATE h SET n = 10 WHERE id % 7 = 0;
	SELECT lsm_flush('t');
});
$node->safe_psql('postgres', 'VACUUM t');
same_as_heap('after more writes and VACUUM');
$node->restart;
same_as_heap('after a restart');

# Rounds of overwriting and deleting most rows, then VACUUM three times
# (the first removes the dead versions, the second moves what is left into
# the pages the first freed, the third cuts the pages the second freed).
for my $round (1 .. 3)
{
	for my $tab ('t', 'h')
	{
		$node->safe_psql('postgres', qq{
			UPDATE $tab SET n = n + 1, pad = md5(pad) || md5(pad || 'x') || md5(pad || 'y');
			UPDATE $tab SET pad = md5(pad) || md5(pad || 'z') || md5(pad || 'w') WHERE id % 4 <> 0;
			DELETE FROM $tab WHERE id % 5 = $round;
			INSERT INTO $tab SELECT g, $round, md5(g::text) || md5((g + $round)::text) || md5((g * 3)::text)
				FROM generate_series(400000 + $round * 20000, 400000 + $round * 20000 + 19999) g;
		});
	}
	my $dirty = $node->safe_psql('postgres', "SELECT pg_relation_size('t')");
	for my $i (1 .. 3)
	{
		$node->safe_psql('postgres', 'VACUUM t');
		$node->safe_psql('postgres', 'SELECT txid_current()');
	}
	same_as_heap("round $round");
	$node->safe_psql('postgres', 'DROP TABLE IF EXISTS live; CREATE TABLE live AS TABLE h; VACUUM live');
	my $live = $node->safe_psql('postgres', "SELECT pg_relation_size('live')");
	my $file = $node->safe_psql('postgres', "SELECT pg_relation_size('t')");
	diag sprintf('round %d: lsm file %d bytes before VACUUM (%.2fx), %d after (%.2fx the heap copy of the live rows, %d bytes)',
		$round, $dirty, $dirty / $live, $file, $file / $live, $live);
	cmp_ok($file / $live, '<=', 2.0,
		"round $round: the file is within twice the live data size of heap");
	is($node->safe_psql('postgres', "SELECT count(*) FROM lsm_verify('t')"), '0',
		"round $round: lsm_verify finds no problem");
}

$node->stop;
done_testing();
