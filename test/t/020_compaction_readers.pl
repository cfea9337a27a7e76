# Pages of runs that compaction replaced are not reused while a reader may
# still read them.
#
# A cursor in a REPEATABLE READ transaction begins a sequential scan of an
# lsm table and stops after a few rows.  Another session then runs many
# rounds of insert, flush and full compaction: every round replaces the runs
# the cursor reads and frees their extents, which the next round's output
# would take if reuse were immediate.  The cursor then reads the rest, and
# must see exactly the rows of its snapshot with intact contents.  Once the
# reader is gone, freed extents are reused: more rounds grow the relation
# far less than the first ones did.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('compaction_readers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 32MB
});
$node->start;

my $nrows = 20000;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int, pad text) USING lsm;
	INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, $nrows) g;
	SELECT lsm_flush('t');
	SELECT lsm_compact('t');
});

# The reader: a cursor that has read 100 rows.
my $reader = $node->background_psql('postgres');
$reader->query_safe(q{
	BEGIN ISOLATION LEVEL REPEATABLE READ;
	DECLARE c CURSOR FOR SELECT k, pad FROM t;
	FETCH 100 FROM c;
});

# Rounds of writes that each replace every run the cursor reads.
my $rounds = 30;
for my $r (1 .. $rounds)
{
	my $base = $nrows + $r * 1000;
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series($base + 1, $base + 1000) g;
		UPDATE t SET pad = 'changed' WHERE k % 97 = $r;
		SELECT lsm_flush('t');
		SELECT lsm_compact('t');
	});
}
my $size_during = $node->safe_psql('postgres', "SELECT pg_relation_size('t')");

my ($out, $ret) = $reader->query(q{
	\\pset format unaligned
	\\pset tuples_only on
	FETCH ALL FROM c;
	COMMIT;
});
my $err = $reader->{stderr} // '';
$reader->quit;

my ($count, $bad, $sum) = (0, 0, 0);
for my $line (split /\n/, $out)
{
	next unless $line =~ /^(\d+)\|(.*)$/;
	my ($k, $pad) = ($1, $2);
	$count++;
	$sum += $k;
	$bad++ if length($pad) != 128 || $pad !~ /^[0-9a-f]+$/;
}
is($ret, 0, 'the cursor read without errors');
is($err, '', 'no error message');
is($count, $nrows - 100, 'the cursor saw every row of its snapshot');
# A sequential scan returns rows in key order: 1..100 came first.
is($sum, $nrows * ($nrows + 1) / 2 - 5050, 'the cursor saw exactly the rest of its snapshot');
is($bad, 0, 'every row the cursor saw is intact');

# The same check through a fresh scan, against what the writes did.
my $expect_rows = $nrows + $rounds * 1000;
my $expect_sum = $nrows * ($nrows + 1) / 2;
$expect_sum += $_ for ($nrows + 1001 .. $nrows + ($rounds + 1) * 1000);
is($node->safe_psql('postgres', 'SELECT count(*), sum(k) FROM t'),
	"$expect_rows|$expect_sum", 'a new scan sees every row');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM t WHERE pad <> repeat(md5(k::text), 4) AND pad <> 'changed'"),
	'0', 'and every row intact');

# Without the reader, freed extents are reused.
for my $r (1 .. $rounds)
{
	my $base = $nrows + ($rounds + $r) * 1000;
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series($base + 1, $base + 1000) g;
		SELECT lsm_flush('t');
		SELECT lsm_compact('t');
	});
}
my $size_after = $node->safe_psql('postgres', "SELECT pg_relation_size('t')");
note "relation size: $size_during bytes after $rounds rounds with the reader, "
  . "$size_after bytes after $rounds more without it";
cmp_ok($size_after - $size_during, '<', $size_during / 2,
	'freed extents are reused once no reader needs them');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'),
	$nrows + 2 * $rounds * 1000, 'all rows after the second rounds');

$node->stop;
done_testing();
