complete -c ox-backup -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -s P -l port -d 'TCP port' -r
complete -c ox-backup -s u -l user -d 'User name' -r
complete -c ox-backup -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -s D -l database -d 'Default database' -r
complete -c ox-backup -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -l repo -d 'Repository directory (created by the first backup)' -r -F
complete -c ox-backup -l backup -d 'Backup to restore or verify (its id, as `list` shows it); default the newest' -r
complete -c ox-backup -l method -d 'How to back up: logical (rows through SQL, any server) or physical (a hot copy of the data directory of a MariaDB 10.8+ server on this host, prepared at restore/verify by a throwaway server; restore it with --to-datadir)' -r -f -a "logical\t'Rows through SQL in a consistent snapshot (any MySQL or MariaDB)'
physical\t'A hot copy of the InnoDB files of a local MariaDB 10.8+ server'"
complete -c ox-backup -l threads -d 'Parallel connections for backup and restore' -r
complete -c ox-backup -l chunk-rows -d 'Rows per data file of a big table (tables are cut into key ranges of this size)' -r
complete -c ox-backup -l compress-level -d 'zstd compression level (1 fast .. 19 small)' -r
complete -c ox-backup -l max-rate -d 'At most this many bytes per second: written (logical) or read from the data files (physical); suffixes K, M, G' -r
complete -c ox-backup -l verify-buffer-pool -d 'Buffer pool of the throwaway server that verify restores into (and that prepares a physical restore: its crash recovery holds the copied redo there)' -r
complete -c ox-backup -l encrypt-key-file -d 'Key file: 32 raw bytes or 64 hex digits (a key), or a passphrase (stretched with Argon2id). Encrypts a backup; needed to restore or verify an encrypted one. Never stored in the repository' -r -F
complete -c ox-backup -l to-datadir -d 'Restore into a new data directory instead of a running server: a throwaway server of the backup\'s flavour and major version is started on a fresh datadir, restored into, shut down cleanly, and its datadir moved to DIR (which must not exist). A physical backup is decoded into DIR (new or empty) and prepared there by a throwaway server\'s crash recovery' -r -F
complete -c ox-backup -l owner -d 'Owner (USER or USER:GROUP) of a physical restore\'s files when run as root; default the owner of the --to-datadir directory if it exists (empty), else of its parent' -r
complete -c ox-backup -l until -d 'After the restore, replay copied binary logs up to this UTC time (YYYY-MM-DD HH:MM:SS; events at or after it are not applied)' -r
complete -c ox-backup -l until-gtid -d 'After the restore, replay copied binary logs up to and including this GTID' -r
complete -c ox-backup -l max-age -d 'check: the newest verified backup may be this old (26h, 90m, 2d)' -r
complete -c ox-backup -l keep-last -d 'expire: keep the N newest backups' -r
complete -c ox-backup -l keep-days -d 'expire: keep backups younger than D days' -r
complete -c ox-backup -s d -l databases -d 'Only these databases (comma-separated)' -r
complete -c ox-backup -s t -l tables -d 'Only these tables: `db.table`, or `table` in any database (comma-separated)' -r
complete -c ox-backup -l ignore-databases -d 'Skip these databases' -r
complete -c ox-backup -l ignore-tables -d 'Skip these tables (`db.table` or `table`)' -r
complete -c ox-backup -l databases-regex -d 'Only databases whose name matches this regular expression' -r
complete -c ox-backup -l tables-regex -d 'Only tables whose name matches this regular expression' -r
complete -c ox-backup -l ignore-databases-regex -d 'Skip databases whose name matches this regular expression' -r
complete -c ox-backup -l ignore-tables-regex -d 'Skip tables whose name matches this regular expression' -r
complete -c ox-backup -l engines -d 'Only tables using these storage engines' -r
complete -c ox-backup -l ignore-engines -d 'Skip tables using these storage engines' -r
complete -c ox-backup -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -l progress -r
complete -c ox-backup -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -l verify -d 'Verify the backup right after taking it (restore into a throwaway server, compare checksums)'
complete -c ox-backup -l allow-non-transactional -d 'Back up non-InnoDB tables too, though they are not covered by the consistent snapshot (a warning is recorded)'
complete -c ox-backup -l no-users -d 'Do not save users and grants'
complete -c ox-backup -l no-binlog -d 'Do not write the restore to the target\'s binary log (sql_log_bin=0)'
complete -c ox-backup -l users -d 'Restore users and grants too'
complete -c ox-backup -l warm-up -d 'After the restore, read the indexes that were in the source\'s buffer pool at backup time (hottest first)'
complete -c ox-backup -l dry-run -d 'expire: say what would be deleted, delete nothing'
complete -c ox-backup -l help -d 'Print help'
complete -c ox-backup -s V -l version -d 'Print version'
complete -c ox-backup -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -l version-check
complete -c ox-backup -l no-version-check
complete -c ox-backup -l check-replication-filters
