fn main() {
    oxkit::entry::main(ox_summary::command(), ox_summary::run)
}
