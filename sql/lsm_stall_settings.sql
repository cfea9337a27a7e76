-- The settings of background flushes and write stalls: their defaults, and
-- that out-of-range values are refused.  They are server-wide (reloaded
-- with the configuration file), so a session cannot SET them, and
-- ALTER SYSTEM checks the value before writing it.
SELECT name, setting, unit, context, min_val, max_val
  FROM pg_settings
 WHERE name IN ('lsm.l0_slowdown_trigger', 'lsm.l0_stop_trigger',
                'lsm.max_frozen_memtables', 'lsm.delayed_write_rate')
 ORDER BY name;

SET lsm.l0_stop_trigger = 20;

ALTER SYSTEM SET lsm.l0_slowdown_trigger = 1;
ALTER SYSTEM SET lsm.l0_slowdown_trigger = 1001;
ALTER SYSTEM SET lsm.l0_stop_trigger = 1;
ALTER SYSTEM SET lsm.l0_stop_trigger = 'many';
ALTER SYSTEM SET lsm.max_frozen_memtables = 0;
ALTER SYSTEM SET lsm.max_frozen_memtables = 9;
ALTER SYSTEM SET lsm.delayed_write_rate = '32kB';
ALTER SYSTEM SET lsm.delayed_write_rate = '-1';

-- Values in range are accepted (and taken back).
ALTER SYSTEM SET lsm.l0_stop_trigger = 36;
ALTER SYSTEM SET lsm.delayed_write_rate = '64MB';
ALTER SYSTEM RESET lsm.l0_stop_trigger;
ALTER SYSTEM RESET lsm.delayed_write_rate;

-- A misspelt lsm setting is an error, not a placeholder.
ALTER SYSTEM SET lsm.l0_stop_triger = 20;
