complete -c ox-table-checksum -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-table-checksum -s P -l port -d 'TCP port' -r
complete -c ox-table-checksum -s u -l user -d 'User name' -r
complete -c ox-table-checksum -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-table-checksum -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-table-checksum -s D -l database -d 'Default database' -r
complete -c ox-table-checksum -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-table-checksum -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-table-checksum -s A -l charset -d 'Connection character set' -r
complete -c ox-table-checksum -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-table-checksum -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-table-checksum -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-table-checksum -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-table-checksum -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-table-checksum -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-table-checksum -l method -d 'How checksums are compared (see METHODS)' -r -f -a "auto\t'replicate when the session can write statement-format binary logs, else snapshot'
replicate\t'write each chunk\'s checksum on the primary (statement format) and let replicas recompute it'
snapshot\t'no writes: checksum primary and replicas in snapshots at the same GTID position'"
complete -c ox-table-checksum -l function -d 'Row hash: sha1-crc32 (non-linear, 32 bits, default), sha1, md5, sha2 (64 bits), or crc32 (pt-table-checksum\'s, which can cancel out)' -r -f -a "sha1-crc32\t'CRC32 of the SHA1 digest, 32 bits per row: not linear, so edits cannot cancel, and cheaper than reading the digest as a number'
sha1\t'SHA1 digest, 64 bits per row, folded without cancellation'
md5\t'MD5 digest, 64 bits per row, folded like sha1'
crc32\t'Percona\'s BIT_XOR of CRC32: compatible, fast, linear (can cancel)'
sha2\t'SHA-256 digest, 64 bits per row, folded like sha1 (what sha1, md5 and sha1-crc32 become on MySQL 9.6+, which removed SHA1() and MD5())'"
complete -c ox-table-checksum -l float-precision -d 'Round FLOAT and DOUBLE values to this many decimals before hashing' -r
complete -c ox-table-checksum -l ignore-columns -d 'Leave these columns out of the checksum (comma-separated)' -r
complete -c ox-table-checksum -l where -d 'Only rows matching this SQL condition (applied on every server)' -r
complete -c ox-table-checksum -l replicate -d 'Checksum table of the replicate method (Percona\'s schema)' -r
complete -c ox-table-checksum -l chunk-time -d 'Seconds each chunk should take; chunk sizes adapt to it (0 keeps --chunk-size fixed)' -r
complete -c ox-table-checksum -l chunk-size -d 'Rows in the first chunk of a table (and every chunk with --chunk-time 0)' -r
complete -c ox-table-checksum -l max-chunk-rows -d 'Largest chunk, in rows' -r
complete -c ox-table-checksum -l max-unkeyed-rows -d 'Tables with no usable index are checksummed in one chunk up to this many rows, skipped above' -r
complete -c ox-table-checksum -l threads -d 'Worker threads (default: half the server\'s CPUs, 2 to 8; with the replicate method no more than the slowest replica applies in parallel)' -r
complete -c ox-table-checksum -l recursion-method -d 'How to find replicas: hosts, processlist, dsn=DSN, none (comma-separated, tried in order)' -r
complete -c ox-table-checksum -l recurse -d 'How many levels of replicas to follow' -r
complete -c ox-table-checksum -l replica-timeout -d 'Seconds to wait for a replica to reach a position before giving up on it' -r
complete -c ox-table-checksum -l snapshot-refresh -d 'Snapshot method: reopen the snapshots after this many seconds, so undo history stays small' -r
complete -c ox-table-checksum -s d -l databases -d 'Only these databases (comma-separated)' -r
complete -c ox-table-checksum -s t -l tables -d 'Only these tables: `db.table`, or `table` in any database (comma-separated)' -r
complete -c ox-table-checksum -l ignore-databases -d 'Skip these databases' -r
complete -c ox-table-checksum -l ignore-tables -d 'Skip these tables (`db.table` or `table`)' -r
complete -c ox-table-checksum -l databases-regex -d 'Only databases whose name matches this regular expression' -r
complete -c ox-table-checksum -l tables-regex -d 'Only tables whose name matches this regular expression' -r
complete -c ox-table-checksum -l ignore-databases-regex -d 'Skip databases whose name matches this regular expression' -r
complete -c ox-table-checksum -l ignore-tables-regex -d 'Skip tables whose name matches this regular expression' -r
complete -c ox-table-checksum -l engines -d 'Only tables using these storage engines' -r
complete -c ox-table-checksum -l ignore-engines -d 'Skip tables using these storage engines' -r
complete -c ox-table-checksum -l max-lag -d 'Pause while any replica lags more than this many seconds' -r
complete -c ox-table-checksum -l max-load -d 'Pause while a global status variable exceeds a limit (`Threads_running=25`)' -r
complete -c ox-table-checksum -l critical-load -d 'Abort when a global status variable exceeds a limit' -r
complete -c ox-table-checksum -l pause-file -d 'Pause while this file exists' -r -F
complete -c ox-table-checksum -l check-interval -d 'Seconds between throttle checks' -r
complete -c ox-table-checksum -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-table-checksum -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-table-checksum -l progress -r
complete -c ox-table-checksum -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-table-checksum -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-table-checksum -l verify-indexes -d 'Also check every secondary index against the table\'s clustered index, on every server'
complete -c ox-table-checksum -l resume -d 'Continue the previous replicate run from the checksum table instead of starting over'
complete -c ox-table-checksum -l fail-on-stopped-replication -d 'Fail (exit flag 128) instead of waiting when a replica\'s threads are stopped'
complete -c ox-table-checksum -l help -d 'Print help'
complete -c ox-table-checksum -s V -l version -d 'Print version'
complete -c ox-table-checksum -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-table-checksum -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-table-checksum -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-table-checksum -l version-check
complete -c ox-table-checksum -l no-version-check
complete -c ox-table-checksum -l check-replication-filters
