fn main() {
    oxkit::entry::main(ox_table_checksum::command(), ox_table_checksum::run)
}
