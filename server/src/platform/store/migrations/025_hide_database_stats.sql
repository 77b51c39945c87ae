-- The functions taken away from PUBLIC in tenant databases now include pg_stat_get_db_* (what
-- pg_stat_database shows of every database). template1 is done again at every start, so new
-- databases inherit it; the scheduler's catch-up does it once more in each existing project's.
UPDATE projects SET sessions_hidden = false WHERE state = 'ready';
