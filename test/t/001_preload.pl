# lsm_am refuses to load unless it is in shared_preload_libraries, and works,
# across a restart, when it is.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $message = qr/ERROR:  lsm_am must be loaded via shared_preload_libraries/;
my $hint = qr/HINT:  Add lsm_am to shared_preload_libraries in postgresql\.conf and restart the server\./;

# A node without lsm_am in shared_preload_libraries.
my $plain = PostgreSQL::Test::Cluster->new('no_preload');
$plain->init;
$plain->start;

my ($ret, $stdout, $stderr) = $plain->psql('postgres', 'CREATE EXTENSION lsm_am');
isnt($ret, 0, 'CREATE EXTENSION fails without shared_preload_libraries');
like($stderr, $message, 'CREATE EXTENSION: the error names shared_preload_libraries');
like($stderr, $hint, 'CREATE EXTENSION: the hint says how to fix it');
is($plain->safe_psql('postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'lsm_am'"),
	'0', 'the failed CREATE EXTENSION left no extension behind');
is($plain->safe_psql('postgres',
		"SELECT count(*) FROM pg_proc WHERE proname = 'lsm_am_version'"),
	'0', 'and no function');

# Every other way of loading it into a backend is refused the same way,
# every time (a failed _PG_init must not leave the library half-loaded).
for my $attempt (1, 2)
{
	($ret, $stdout, $stderr) = $plain->psql('postgres', "LOAD 'lsm_am'");
	isnt($ret, 0, "LOAD fails without shared_preload_libraries (attempt $attempt)");
	like($stderr, $message, "LOAD: the error names shared_preload_libraries (attempt $attempt)");
}
($ret, $stdout, $stderr) = $plain->psql('postgres', "LOAD 'lsm_am'; LOAD 'lsm_am';",
	on_error_stop => 0);
is(() = $stderr =~ /$message/g, 2, 'LOAD twice in one session fails twice');

# The error has SQLSTATE 55000 (object_not_in_prerequisite_state).
($ret, $stdout, $stderr) = $plain->psql('postgres', q{
	DO $$
	BEGIN
		EXECUTE 'LOAD ''lsm_am''';
	EXCEPTION WHEN object_not_in_prerequisite_state THEN
		RAISE NOTICE 'caught %', SQLSTATE;
	END $$;
});
is($ret, 0, 'the error can be caught as object_not_in_prerequisite_state');
like($stderr, qr/NOTICE:  caught 55000/, 'its SQLSTATE is 55000');

$plain->stop;

# A node with lsm_am preloaded.
my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'lsm_am'");
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), 'lsm_am',
	'lsm_am is preloaded');
$node->safe_psql('postgres', 'CREATE EXTENSION lsm_am');
like($node->safe_psql('postgres', 'SELECT lsm_am_version()'),
	qr/^lsm_am 0\.1 \(core \d+\.\d+\.\d+\)$/, 'lsm_am_version() works');
($ret, $stdout, $stderr) = $node->psql('postgres', 'SET lsm.nonexistent = 1');
isnt($ret, 0, 'lsm.* is a reserved prefix');
like($stderr, qr/"lsm" is a reserved prefix/, 'and the error says so');

# Survives a restart, fast and immediate (crash recovery).
$node->restart;
is($node->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'lsm_am'"),
	'0.1', 'extension still installed after restart');
like($node->safe_psql('postgres', 'SELECT lsm_am_version()'),
	qr/^lsm_am 0\.1 /, 'lsm_am_version() works after restart');

$node->stop('immediate');
$node->start;
like($node->safe_psql('postgres', 'SELECT lsm_am_version()'),
	qr/^lsm_am 0\.1 /, 'lsm_am_version() works after crash recovery');

# DROP and CREATE again on the restarted server.
$node->safe_psql('postgres', 'DROP EXTENSION lsm_am; CREATE EXTENSION lsm_am');
like($node->safe_psql('postgres', 'SELECT lsm_am_version()'),
	qr/^lsm_am 0\.1 /, 'DROP and CREATE EXTENSION again');

$node->stop;

done_testing();
