# An lsm table survives CHECKPOINT followed by a crash, in every order of
# flushes, checkpoints and changes: runs written before the checkpoint (read
# back from the data files), runs written after it (rebuilt from WAL alone),
# a memtable whose log pages straddle the checkpoint, TRUNCATE, DROP TABLE,
# and a table created after the last checkpoint.  Each change is mirrored
# into a heap table; after each crash the two must hold the same rows.  The
# cluster has data checksums, and pg_checksums checks every page of it at
# the end.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use LsmCrash qw(redo_check);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# LSM_TEST_AM=heap runs the same test on heap tables (to test the test).
my $am = $ENV{LSM_TEST_AM} || 'lsm';
my $is_lsm = $am eq 'lsm';

my $node = PostgreSQL::Test::Cluster->new('checkpoint_crash');
$node->init(extra => ['--data-checksums']);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
checkpoint_timeout = 1h
max_wal_size = 1GB
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k bigint, id int, v text) USING $am;
	CREATE TABLE h (k bigint, id int, v text) USING heap;
});

sub flush
{
	my ($table) = @_;
	$node->safe_psql('postgres', "SELECT lsm_flush('$table')") if $is_lsm;
	return;
}

# Runs SQL in which @T stands for the table, for t and for h, in one
# transaction.
sub both
{
	my ($sql) = @_;
	my $t = $sql =~ s/\@T/t/gr;
	my $h = $sql =~ s/\@T/h/gr;
	$node->safe_psql('postgres', "BEGIN;\n$t\n$h\nCOMMIT;");
	return;
}

sub check
{
	my ($what, $lt, $ht) = @_;
	$lt //= 't';
	$ht //= 'h';
	my $res = $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM $lt) || ' ' || (SELECT count(*) FROM $ht) || ' '
			|| (SELECT count(*) FROM (TABLE $lt EXCEPT ALL TABLE $ht) d) || ' '
			|| (SELECT count(*) FROM (TABLE $ht EXCEPT ALL TABLE $lt) d)});
	my ($nt, $nh, $d1, $d2) = split / /, $res;
	ok($nt == $nh && $d1 == 0 && $d2 == 0, "$what: the lsm table holds exactly the heap table's rows ($nt)")
	  or diag("lsm $nt rows, heap $nh, $d1 only in lsm, $d2 only in heap");
	return;
}

sub crash
{
	$node->stop('immediate');
	$node->start;
	is(redo_check($node), '', 'after crash recovery: every named page exists');
	return;
}

# 1. A run written before the checkpoint, changes in the memtable on both
#    sides of it.
both(q{INSERT INTO @T SELECT hashint4(g), g, 'first ' || g FROM generate_series(1, 20000) g;});
flush('t');
both(q{INSERT INTO @T SELECT hashint4(g), g, 'second ' || g FROM generate_series(20001, 25000) g;});
$node->safe_psql('postgres', 'CHECKPOINT');
both(q{
	UPDATE @T SET v = v || ' updated' WHERE id % 10 = 0;
	DELETE FROM @T WHERE id % 10 = 1;
	UPDATE @T SET k = -k WHERE id % 10 = 2;
});
$node->safe_psql('postgres', 'CHECKPOINT');
both(q{INSERT INTO @T SELECT hashint4(g), g, 'third ' || g FROM generate_series(25001, 26000) g;});
crash();
check('a run and a memtable across two checkpoints');

# 2. Runs written after the last checkpoint exist only in WAL.
$node->safe_psql('postgres', 'CHECKPOINT');
both(q{INSERT INTO @T SELECT hashint4(g), g, 'fourth ' || g FROM generate_series(26001, 40000) g;});
flush('t');
both(q{DELETE FROM @T WHERE id % 10 = 3;});
flush('t');
both(q{UPDATE @T SET v = 'after two flushes' WHERE id % 10 = 4;});
crash();
check('runs written after the checkpoint');

# 3. Crash right after a checkpoint that followed a flush.
flush('t');
$node->safe_psql('postgres', 'CHECKPOINT');
crash();
check('crash right after flush and checkpoint');
# and again with nothing in between
crash();
check('a second crash in a row');

# 4. TRUNCATE before and after a checkpoint.
both(q{TRUNCATE @T;});
both(q{INSERT INTO @T SELECT g, g, 'after truncate' FROM generate_series(1, 1000) g;});
$node->safe_psql('postgres', 'CHECKPOINT');
both(q{INSERT INTO @T SELECT g, g, 'after truncate and checkpoint' FROM generate_series(1001, 2000) g;});
crash();
check('TRUNCATE, checkpoint, crash');
$node->safe_psql('postgres', 'CHECKPOINT');
both(q{TRUNCATE @T;});
both(q{INSERT INTO @T SELECT g, g, 'after checkpoint and truncate' FROM generate_series(1, 3000) g;});
flush('t');
both(q{INSERT INTO @T VALUES (0, 0, 'memtable');});
crash();
check('checkpoint, TRUNCATE, flush, crash');
# a TRUNCATE that rolled back
$node->safe_psql('postgres', "BEGIN; TRUNCATE t; INSERT INTO t VALUES (1, 1, 'gone'); ROLLBACK;");
crash();
check('a TRUNCATE rolled back before the crash');

# 5. A table created after the last checkpoint, then one dropped.
$node->safe_psql('postgres', 'CHECKPOINT');
$node->safe_psql('postgres', qq{
	CREATE TABLE t2 (k text COLLATE "C", v int) USING $am;
	CREATE TABLE h2 (k text COLLATE "C", v int) USING heap;
	INSERT INTO t2 SELECT md5(g::text), g FROM generate_series(1, 5000) g;
	INSERT INTO h2 SELECT md5(g::text), g FROM generate_series(1, 5000) g;
});
flush('t2');
$node->safe_psql('postgres', q{
	INSERT INTO t2 SELECT md5(g::text), g FROM generate_series(5001, 6000) g;
	INSERT INTO h2 SELECT md5(g::text), g FROM generate_series(5001, 6000) g;
});
crash();
check('a table created after the checkpoint', 't2', 'h2');
is($node->safe_psql('postgres', "SELECT v FROM t2 WHERE k = md5('4242')"), '4242', 'a lookup in it');
my $path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('t2')");
ok(-e $node->data_dir . "/$path", 'its file exists');
$node->safe_psql('postgres', 'CHECKPOINT');
$node->safe_psql('postgres', 'DROP TABLE t2, h2');
crash();
ok(!-e $node->data_dir . "/$path", 'a dropped table\'s file is gone after the crash');
check('the other table after the DROP');
$node->safe_psql('postgres', qq{
	CREATE TABLE t3 (k int, v int) USING $am;
	INSERT INTO t3 SELECT g, g FROM generate_series(1, 100) g;
});
flush('t3');
$node->safe_psql('postgres', 'DROP TABLE t3');
crash();
is($node->safe_psql('postgres', "SELECT to_regclass('t3') IS NULL"), 't',
	'a table created, flushed and dropped since the checkpoint stays dropped');

# 6. Still consistent after a clean restart, and every page has a valid
#    checksum.
$node->restart;
check('after a clean restart');
$node->stop;
command_ok([ 'pg_checksums', '--check', '-D', $node->data_dir ],
	'pg_checksums: every page of the cluster has a valid checksum');
$node->start;
check('after pg_checksums');
$node->stop;

done_testing();
