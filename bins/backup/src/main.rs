fn main() {
    oxkit::entry::main(ox_backup::command(), ox_backup::run)
}
