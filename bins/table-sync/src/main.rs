fn main() {
    oxkit::entry::main(ox_table_sync::command(), ox_table_sync::run)
}
