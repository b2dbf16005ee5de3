complete -c ox-table-sync -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-table-sync -s P -l port -d 'TCP port' -r
complete -c ox-table-sync -s u -l user -d 'User name' -r
complete -c ox-table-sync -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-table-sync -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-table-sync -s D -l database -d 'Default database' -r
complete -c ox-table-sync -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-table-sync -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-table-sync -s A -l charset -d 'Connection character set' -r
complete -c ox-table-sync -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-table-sync -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-table-sync -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-table-sync -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-table-sync -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-table-sync -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-table-sync -l replicate -d 'Sync only the chunks this checksum table (ox-table-checksum\'s or pt-table-checksum\'s) records as different' -r
complete -c ox-table-sync -l where -d 'Only rows matching this SQL condition (applied on both sides)' -r
complete -c ox-table-sync -l function -d 'Row hash used for the sub-range checksums' -r -f -a "sha1-crc32\t'CRC32 of the SHA1 digest, 32 bits per row: not linear, so edits cannot cancel, and cheaper than reading the digest as a number'
sha1\t'SHA1 digest, 64 bits per row, folded without cancellation'
md5\t'MD5 digest, 64 bits per row, folded like sha1'
crc32\t'Percona\'s BIT_XOR of CRC32: compatible, fast, linear (can cancel)'
sha2\t'SHA-256 digest, 64 bits per row, folded like sha1 (what sha1, md5 and sha1-crc32 become on MySQL 9.6+, which removed SHA1() and MD5())'"
complete -c ox-table-sync -l chunk-size -d 'Rows per range in direct and --sync-to-master mode (each range is compared in one pass)' -r
complete -c ox-table-sync -l bucket-rows -d 'Rows per hash bucket inside a range; only differing buckets\' rows are fetched' -r
complete -c ox-table-sync -l batch-size -d 'Rows fixed per transaction' -r
complete -c ox-table-sync -l replica-timeout -d 'Seconds to wait for a replica to reach a position before giving up' -r
complete -c ox-table-sync -s d -l databases -d 'Only these databases (comma-separated)' -r
complete -c ox-table-sync -s t -l tables -d 'Only these tables: `db.table`, or `table` in any database (comma-separated)' -r
complete -c ox-table-sync -l ignore-databases -d 'Skip these databases' -r
complete -c ox-table-sync -l ignore-tables -d 'Skip these tables (`db.table` or `table`)' -r
complete -c ox-table-sync -l databases-regex -d 'Only databases whose name matches this regular expression' -r
complete -c ox-table-sync -l tables-regex -d 'Only tables whose name matches this regular expression' -r
complete -c ox-table-sync -l ignore-databases-regex -d 'Skip databases whose name matches this regular expression' -r
complete -c ox-table-sync -l ignore-tables-regex -d 'Skip tables whose name matches this regular expression' -r
complete -c ox-table-sync -l engines -d 'Only tables using these storage engines' -r
complete -c ox-table-sync -l ignore-engines -d 'Skip tables using these storage engines' -r
complete -c ox-table-sync -l max-lag -d 'Pause while any replica lags more than this many seconds' -r
complete -c ox-table-sync -l max-load -d 'Pause while a global status variable exceeds a limit (`Threads_running=25`)' -r
complete -c ox-table-sync -l critical-load -d 'Abort when a global status variable exceeds a limit' -r
complete -c ox-table-sync -l pause-file -d 'Pause while this file exists' -r -F
complete -c ox-table-sync -l check-interval -d 'Seconds between throttle checks' -r
complete -c ox-table-sync -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-table-sync -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-table-sync -l progress -r
complete -c ox-table-sync -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-table-sync -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-table-sync -l sync-to-master -d 'Sync the one DSN given, a replica, with its source, writing the fix on the source so it replicates'
complete -c ox-table-sync -l allow-no-key -d 'Sync tables without a unique NOT NULL key by whole-row groups (DELETE ... LIMIT n, INSERT); skipped otherwise'
complete -c ox-table-sync -l check-child-tables -d 'Warn about tables whose rows other tables reference through foreign keys'
complete -c ox-table-sync -l print -d 'Print the SQL that fixes the drift (replayable with the mysql client) on stdout'
complete -c ox-table-sync -l dry-run -d 'Find the differences and report counts; change nothing'
complete -c ox-table-sync -l execute -d 'Apply the fix'
complete -c ox-table-sync -l fail-on-stopped-replication -d 'Fail (exit flag 128) instead of waiting when a replica\'s threads are stopped'
complete -c ox-table-sync -l help -d 'Print help'
complete -c ox-table-sync -s V -l version -d 'Print version'
complete -c ox-table-sync -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-table-sync -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-table-sync -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-table-sync -l version-check
complete -c ox-table-sync -l no-version-check
complete -c ox-table-sync -l check-replication-filters
