// refinery's embed_migrations! reads the migration directories when the
// crate compiles: a new file must recompile it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
