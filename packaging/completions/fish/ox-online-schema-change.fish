complete -c ox-online-schema-change -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-online-schema-change -s P -l port -d 'TCP port' -r
complete -c ox-online-schema-change -s u -l user -d 'User name' -r
complete -c ox-online-schema-change -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-online-schema-change -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-online-schema-change -s D -l database -d 'Default database' -r
complete -c ox-online-schema-change -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-online-schema-change -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-online-schema-change -s A -l charset -d 'Connection character set' -r
complete -c ox-online-schema-change -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-online-schema-change -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-online-schema-change -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-online-schema-change -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-online-schema-change -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-online-schema-change -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-online-schema-change -l recursion-method -d 'How to find replicas: hosts, processlist, dsn=DSN, none (comma-separated, tried in order)' -r
complete -c ox-online-schema-change -l alter -d 'The ALTER TABLE clauses to apply, without "ALTER TABLE t": "ADD INDEX k (c), MODIFY v BIGINT"' -r
complete -c ox-online-schema-change -l method -d 'How concurrent changes reach the shadow table [default: binlog when the server\'s binary log can be read (MariaDB, or MySQL 8.0.13+; ROW, FULL images, privileges), else triggers with a note why]' -r -f -a "triggers\t'AFTER INSERT/UPDATE/DELETE triggers on the table write every change to the shadow table in the same transaction'
binlog\t'Read changed keys from the binary log (ROW format) and copy those rows again; no triggers'"
complete -c ox-online-schema-change -l alter-foreign-keys-method -d 'Foreign keys of child tables pointing at this table' -r -f -a "auto\t'rebuild_constraints when the table has children'
rebuild-constraints\t'After the swap, re-point each child\'s constraint at the new table (ALTER TABLE child, in place)'
drop-swap\t'Drop the original table and rename the new one into place: not atomic (refused: not built)'
none\t'Leave child constraints pointing at the old table (it is then kept); for experts'"
complete -c ox-online-schema-change -l sleep-ratio -d 'Pause after a round of chunks for this fraction of its time, so the copy yields to the application (with --pace adaptive only while it suffers; 0: copy flat out)' -r
complete -c ox-online-schema-change -l pace -d 'When the copy sleeps --sleep-ratio: only while the application suffers, or after every round' -r -f -a "adaptive\t'Sleep --sleep-ratio times each round\'s time only while the application suffers (latency probe, Threads_running, replica lag)'
always\t'Sleep --sleep-ratio times each round\'s time after every round'"
complete -c ox-online-schema-change -l threads -d 'Sessions that copy (and checksum) disjoint key ranges at once; each round of chunks is paced and checkpointed as one [default: 2 with binary log capture, 1 with triggers]' -r
complete -c ox-online-schema-change -l cut-over-lock-wait -d 'Seconds one attempt of the swap (or of any DDL on the table) tries to get the table\'s metadata lock; it asks only while no transaction holds the table, so the application is never its deadlock victim' -r
complete -c ox-online-schema-change -l cut-over-timeout -d 'Give up the swap (and clean up) after trying for this many seconds' -r
complete -c ox-online-schema-change -l postpone-cut-over -d 'Copy and keep the shadow table in sync, but do not swap while FILE exists' -r -F
complete -c ox-online-schema-change -l max-lag -d 'Pause while any replica lags more than this many seconds' -r
complete -c ox-online-schema-change -l max-load -d 'Pause while a global status variable exceeds a limit (`Threads_running=25`)' -r
complete -c ox-online-schema-change -l critical-load -d 'Abort when a global status variable exceeds a limit' -r
complete -c ox-online-schema-change -l pause-file -d 'Pause while this file exists' -r -F
complete -c ox-online-schema-change -l check-interval -d 'Seconds between throttle checks' -r
complete -c ox-online-schema-change -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-online-schema-change -l chunk-time -d 'Seconds each copy chunk should take (the chunk size adapts to it)' -r
complete -c ox-online-schema-change -l chunk-size -d 'Rows in the first chunk' -r
complete -c ox-online-schema-change -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-online-schema-change -l progress -r
complete -c ox-online-schema-change -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-online-schema-change -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-online-schema-change -l force-copy -d 'Copy even when the server could make the change instantly'
complete -c ox-online-schema-change -l allow-data-loss -d 'Allow changes that lose data: a UNIQUE key over duplicate values (duplicates are dropped) or a narrower column that truncates values'
complete -c ox-online-schema-change -l dry-run -d 'Show the plan (instant or copy, rows, time, guards); change nothing'
complete -c ox-online-schema-change -l execute -d 'Make the change'
complete -c ox-online-schema-change -l resume -d 'Continue the copy of an earlier run that was killed (its shadow table, triggers and checkpoint are kept)'
complete -c ox-online-schema-change -l no-drop-old-table -d 'Keep the original table (renamed _<table>_old) after the swap'
complete -c ox-online-schema-change -l keep-old-table -d 'After the swap keep the original (as _<table>_old) and keep it in sync with the new table from the binary log, until stopped (Ctrl-C, SIGTERM: exit 4, the kept table and its state stay for --revert or --drop-old-table); refuses ALTERs that cannot be mapped back'
complete -c ox-online-schema-change -l revert -d 'Swap the table kept by --keep-old-table back in, after applying every change made since (its keeping run must be stopped first); the altered table is dropped unless --no-drop-old-table'
complete -c ox-online-schema-change -l drop-old-table -d 'End --keep-old-table: drop the kept original and its state (its keeping run must be stopped first)'
complete -c ox-online-schema-change -l fail-on-stopped-replication -d 'Fail (exit flag 128) instead of waiting when a replica\'s threads are stopped'
complete -c ox-online-schema-change -l help -d 'Print help'
complete -c ox-online-schema-change -s V -l version -d 'Print version'
complete -c ox-online-schema-change -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-online-schema-change -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-online-schema-change -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-online-schema-change -l version-check
complete -c ox-online-schema-change -l no-version-check
complete -c ox-online-schema-change -l check-replication-filters
