# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ox_backup_global_optspecs
    string join \n repo= s3-endpoint= s3-region= s3-credentials-file= h/host= P/port= u/user= p/password= ask-pass S/socket= D/database= F/defaults-file= defaults-extra-file= no-defaults A/charset= ssl-mode= ssl-ca= ssl-cert= ssl-key= connect-timeout= set-vars= format= help V/version config= no-config v/verbose quiet version-check no-version-check check-replication-filters progress=
end

function __fish_ox_backup_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ox_backup_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ox_backup_using_subcommand
    set -l cmd (__fish_ox_backup_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ox-backup -n "__fish_ox_backup_needs_command" -l repo -d 'Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l s3-endpoint -d 'S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l s3-region -d 'S3 region (default $AWS_REGION, else us-east-1)' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l s3-credentials-file -d 'File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line' -r -F
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s P -l port -d 'TCP port' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s u -l user -d 'User name' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s D -l database -d 'Default database' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l progress -r
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l help -d 'Print help'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s V -l version -d 'Print version'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l version-check
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l no-version-check
complete -c ox-backup -n "__fish_ox_backup_needs_command" -l check-replication-filters
complete -c ox-backup -n "__fish_ox_backup_needs_command" -f -a "backup" -d 'Take a backup of the server (DSN) into --repo'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -f -a "list" -d 'List the backups in --repo with age, size, duration and verification'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -f -a "check" -d 'Exit non-zero when the newest verified backup is older than --max-age (monitoring)'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -f -a "expire" -d 'Delete backups outside --keep-last/--keep-days (never the newest verified one) and abandoned ones (their backup died), and the archived binary logs older than every kept backup\'s position'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -f -a "restore" -d 'Restore a backup (--backup, default the newest) into the server (DSN)'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -f -a "verify" -d 'Restore a backup into a throwaway server and compare checksums; record the verdict'
complete -c ox-backup -n "__fish_ox_backup_needs_command" -f -a "binlog" -d 'Copy the server\'s binary logs into --repo for point-in-time recovery'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l method -d 'How to back up: logical (rows through SQL, any server) or physical (a hot copy of the data directory of a server on this host: MariaDB 10.8+ by copying its files and redo, MySQL 8.0.17+ with the server\'s clone plugin; restore it with --to-datadir)' -r -f -a "logical\t'Rows through SQL in a consistent snapshot (any MySQL or MariaDB)'
physical\t'A hot copy of a local server\'s data directory (MariaDB 10.8+: its files and redo; MySQL 8.0.17+: the server\'s clone)'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l threads -d 'Parallel connections for backup and restore' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l chunk-rows -d 'Rows per data file of a big table (tables are cut into key ranges of this size)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l compress-level -d 'zstd compression level (1 fast .. 19 small)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l max-rate -d 'At most this many bytes per second: written (logical) or read from the data files (physical); suffixes K, M, G' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l staging-dir -d 'Physical on MySQL: where the server writes its clone before it is stored (needs the data size free; the server\'s OS user must reach it); default: the repository\'s directory' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l verify-buffer-pool -d 'Buffer pool of the throwaway server that verify restores into (and that prepares a physical restore: its crash recovery holds the copied redo there)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l encrypt-key-file -d 'Key file: 32 raw bytes or 64 hex digits (a key), or a passphrase (stretched with Argon2id). Encrypts a backup; needed to restore or verify an encrypted one. Never stored in the repository' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s d -l databases -d 'Only these databases (comma-separated)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s t -l tables -d 'Only these tables: `db.table`, or `table` in any database (comma-separated)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ignore-databases -d 'Skip these databases' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ignore-tables -d 'Skip these tables (`db.table` or `table`)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l databases-regex -d 'Only databases whose name matches this regular expression' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l tables-regex -d 'Only tables whose name matches this regular expression' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ignore-databases-regex -d 'Skip databases whose name matches this regular expression' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ignore-tables-regex -d 'Skip tables whose name matches this regular expression' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l engines -d 'Only tables using these storage engines' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ignore-engines -d 'Skip tables using these storage engines' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l repo -d 'Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l s3-endpoint -d 'S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l s3-region -d 'S3 region (default $AWS_REGION, else us-east-1)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l s3-credentials-file -d 'File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s P -l port -d 'TCP port' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s u -l user -d 'User name' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s D -l database -d 'Default database' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l progress -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l verify -d 'Verify the backup right after taking it (restore into a throwaway server, compare checksums)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l allow-non-transactional -d 'Back up non-InnoDB tables too, though they are not covered by the consistent snapshot (a warning is recorded)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l no-users -d 'Do not save users and grants'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l users -d 'Restore users and grants too (verify and backup --verify: into the throwaway server)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l help -d 'Print help'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l no-version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand backup" -l check-replication-filters
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l repo -d 'Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l s3-endpoint -d 'S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l s3-region -d 'S3 region (default $AWS_REGION, else us-east-1)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l s3-credentials-file -d 'File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s P -l port -d 'TCP port' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s u -l user -d 'User name' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s D -l database -d 'Default database' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l progress -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l help -d 'Print help'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l no-version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand list" -l check-replication-filters
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l max-age -d 'The newest verified backup may be this old (26h, 90m, 2d)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l max-archive-lag -d 'Also alert when a binary-log archive kept by `binlog --follow` was last current longer ago than this (30s, 5m)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l repo -d 'Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l s3-endpoint -d 'S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l s3-region -d 'S3 region (default $AWS_REGION, else us-east-1)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l s3-credentials-file -d 'File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s P -l port -d 'TCP port' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s u -l user -d 'User name' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s D -l database -d 'Default database' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l progress -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l help -d 'Print help'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l no-version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand check" -l check-replication-filters
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l keep-last -d 'Keep the N newest backups' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l keep-days -d 'Keep backups younger than D days' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l repo -d 'Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l s3-endpoint -d 'S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l s3-region -d 'S3 region (default $AWS_REGION, else us-east-1)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l s3-credentials-file -d 'File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s P -l port -d 'TCP port' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s u -l user -d 'User name' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s D -l database -d 'Default database' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l progress -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l dry-run -d 'Say what would be deleted, delete nothing'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l help -d 'Print help'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l no-version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand expire" -l check-replication-filters
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l backup -d 'Backup to restore or verify (its id, as `list` shows it); default the newest' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l threads -d 'Parallel connections for backup and restore' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l encrypt-key-file -d 'Key file: 32 raw bytes or 64 hex digits (a key), or a passphrase (stretched with Argon2id). Encrypts a backup; needed to restore or verify an encrypted one. Never stored in the repository' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l to-datadir -d 'Restore into a new data directory instead of a running server: a throwaway server of the backup\'s flavour and major version is started on a fresh datadir, restored into, shut down cleanly, and its datadir moved to DIR (which must not exist). A physical backup is decoded into DIR (new or empty) and prepared there by a throwaway server\'s crash recovery' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l owner -d 'Owner (USER or USER:GROUP) of a physical restore\'s files when run as root; default the owner of the --to-datadir directory if it exists (empty), else of its parent' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l first -d 'Restore these tables completely first (rows, indexes, foreign keys, triggers), with the tables they reference by foreign key, then the rest; the moment they are usable is said on stderr and reported (first_usable_secs). TABLES: db.table or table, comma-separated, * and ? as wildcards (a logical backup)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l until -d 'After the restore, replay copied binary logs up to this UTC time (YYYY-MM-DD HH:MM:SS; events at or after it are not applied)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l until-gtid -d 'After the restore, replay copied binary logs up to and including this GTID' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l verify-buffer-pool -d 'Buffer pool of the throwaway server that verify restores into (and that prepares a physical restore: its crash recovery holds the copied redo there)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s d -l databases -d 'Only these databases (comma-separated)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s t -l tables -d 'Only these tables: `db.table`, or `table` in any database (comma-separated)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ignore-databases -d 'Skip these databases' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ignore-tables -d 'Skip these tables (`db.table` or `table`)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l databases-regex -d 'Only databases whose name matches this regular expression' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l tables-regex -d 'Only tables whose name matches this regular expression' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ignore-databases-regex -d 'Skip databases whose name matches this regular expression' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ignore-tables-regex -d 'Skip tables whose name matches this regular expression' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l engines -d 'Only tables using these storage engines' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ignore-engines -d 'Skip tables using these storage engines' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l repo -d 'Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l s3-endpoint -d 'S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l s3-region -d 'S3 region (default $AWS_REGION, else us-east-1)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l s3-credentials-file -d 'File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s P -l port -d 'TCP port' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s u -l user -d 'User name' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s D -l database -d 'Default database' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l progress -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l no-binlog -d 'Do not write the restore to the target\'s binary log (sql_log_bin=0)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l users -d 'Restore users and grants too (verify and backup --verify: into the throwaway server)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l warm-up -d 'After the restore, read the indexes that were in the source\'s buffer pool at backup time (hottest first)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l help -d 'Print help'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l no-version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand restore" -l check-replication-filters
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l backup -d 'Backup to restore or verify (its id, as `list` shows it); default the newest' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l threads -d 'Parallel connections for backup and restore' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l verify-buffer-pool -d 'Buffer pool of the throwaway server that verify restores into (and that prepares a physical restore: its crash recovery holds the copied redo there)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l encrypt-key-file -d 'Key file: 32 raw bytes or 64 hex digits (a key), or a passphrase (stretched with Argon2id). Encrypts a backup; needed to restore or verify an encrypted one. Never stored in the repository' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l repo -d 'Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l s3-endpoint -d 'S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l s3-region -d 'S3 region (default $AWS_REGION, else us-east-1)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l s3-credentials-file -d 'File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s P -l port -d 'TCP port' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s u -l user -d 'User name' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s D -l database -d 'Default database' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l progress -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l users -d 'Restore users and grants too (verify and backup --verify: into the throwaway server)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l help -d 'Print help'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l no-version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand verify" -l check-replication-filters
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l encrypt-key-file -d 'Key file: 32 raw bytes or 64 hex digits (a key), or a passphrase (stretched with Argon2id). Encrypts a backup; needed to restore or verify an encrypted one. Never stored in the repository' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l compress-level -d 'zstd compression level (1 fast .. 19 small)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l segment-seconds -d 'With --follow: close a segment this many seconds after its first byte arrived (the most a lost host can lose)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l segment-size -d 'With --follow: close a segment once it holds this much (k, M, G)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l reconnect-for -d 'With --follow: retry an unreachable server this long (90s, 10m) before exiting with an error' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l repo -d 'Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l s3-endpoint -d 'S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l s3-region -d 'S3 region (default $AWS_REGION, else us-east-1)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l s3-credentials-file -d 'File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s P -l port -d 'TCP port' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s u -l user -d 'User name' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s D -l database -d 'Default database' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s A -l charset -d 'Connection character set' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l progress -r
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l follow -d 'Keep running: store the binary log as the server writes it, in segments, resuming after a restart or a lost connection, until Ctrl-C or SIGTERM (runs as a service: packaging/ox-backup-binlog@.service)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l help -d 'Print help'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l no-version-check
complete -c ox-backup -n "__fish_ox_backup_using_subcommand binlog" -l check-replication-filters
