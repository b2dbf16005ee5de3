complete -c ox-summary -s h -l host -d 'Server host name or IP address (localhost means the Unix socket)' -r
complete -c ox-summary -s P -l port -d 'TCP port' -r
complete -c ox-summary -s u -l user -d 'User name' -r
complete -c ox-summary -s p -l password -d 'Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass' -r
complete -c ox-summary -s S -l socket -d 'Unix socket file' -r -F
complete -c ox-summary -s D -l database -d 'Default database' -r
complete -c ox-summary -s F -l defaults-file -d 'Read only this option file (mysql client semantics)' -r -F
complete -c ox-summary -l defaults-extra-file -d 'Read this option file after the global option files, before ~/.my.cnf' -r -F
complete -c ox-summary -s A -l charset -d 'Connection character set' -r
complete -c ox-summary -l ssl-mode -d 'TLS requirement (default PREFERRED over TCP, DISABLED over the socket)' -r -f -a "DISABLED\t'Plain connection'
PREFERRED\t'TLS when the server offers it, otherwise plain (the default over TCP)'
REQUIRED\t'TLS, without checking the server certificate'
VERIFY_CA\t'TLS, server certificate signed by the --ssl-ca certificate'
VERIFY_IDENTITY\t'TLS, certificate signed by the --ssl-ca certificate and naming the host'"
complete -c ox-summary -l ssl-ca -d 'CA certificate (PEM) to verify the server with' -r -F
complete -c ox-summary -l ssl-cert -d 'Client certificate (PEM)' -r -F
complete -c ox-summary -l ssl-key -d 'Client private key (PEM)' -r -F
complete -c ox-summary -l connect-timeout -d 'Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together' -r
complete -c ox-summary -l set-vars -d 'Session variables to set after connecting: var=value,var2=value2' -r
complete -c ox-summary -l format -d 'Output format: human text tables, or one JSON document for scripts' -r -f -a "text\t'Human-readable tables'
json\t'One JSON document on stdout'"
complete -c ox-summary -l sleep -d 'Seconds between the two readings of status counters and CPU use; 0 reports rates since start-up at once' -r
complete -c ox-summary -l sections -d 'Sections to show, comma-separated, in report order whatever the order given (default: all)' -r -f -a "host\t''
cpu\t''
memory\t''
mounts\t''
disks\t''
network\t''
processes\t''
db-processes\t''
kernel\t''
server\t''
replication\t''
processlist\t''
status\t''
plugins\t''
schemas\t''
engines\t''
innodb\t''
accounts\t''
encryption\t''
binlog\t''
backup\t''
notes\t''"
complete -c ox-summary -l save-samples -d 'Also write the raw inputs (files read, query results) to DIR/samples.json' -r -F
complete -c ox-summary -l read-samples -d 'Render the report from DIR/samples.json instead of reading this host and server' -r -F
complete -c ox-summary -l config -d 'Read options from FILE (one option=value a line) after the global and user config files' -r -F
complete -c ox-summary -l progress -r
complete -c ox-summary -l ask-pass -d 'Prompt for the password on the terminal'
complete -c ox-summary -l no-defaults -d 'Read no option files (my.cnf)'
complete -c ox-summary -l no-system -d 'Do not summarise the host (automatic when the server is on another host)'
complete -c ox-summary -l no-server -d 'Do not connect to a server: the host only'
complete -c ox-summary -l help -d 'Print help'
complete -c ox-summary -s V -l version -d 'Print version'
complete -c ox-summary -l no-config -d 'Do not read /etc/oxkit or ~/.config/oxkit config files'
complete -c ox-summary -s v -l verbose -d 'More messages on stderr (repeat for more); passwords are never shown'
complete -c ox-summary -l quiet -d 'Only errors on stderr: no warnings or notes (Percona Toolkit\'s --quiet)'
complete -c ox-summary -l version-check
complete -c ox-summary -l no-version-check
complete -c ox-summary -l check-replication-filters
