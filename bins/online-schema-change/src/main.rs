fn main() {
    oxkit::entry::main(
        ox_online_schema_change::command(),
        ox_online_schema_change::run,
    )
}
