use clap::Parser;
use zio_gateway::cli::{exit_code, run, Cli};

/// Rust's allocations go to mimalloc: under load the request tasks allocate
/// and the ledger writer frees (and back), and glibc's single arena (below)
/// made every such free wait on one lock (a tenth of the server's CPU in a
/// profile of `scripts/load.sh`). mimalloc frees across threads without a
/// lock, and its RSS over ten 150,000-line messages stays as flat as glibc's
/// (tests/server_rss.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    memory_setup();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("zio-gateway: {e}");
            std::process::exit(exit_code(&e));
        }
    }
}

/// Two settings that keep the resident set flat (issue 11), made before any
/// other thread exists:
///
/// - No transparent huge pages: mimalloc commits its arenas eagerly, and
///   where the kernel backs them with 2 MiB pages one touched byte makes
///   2 MiB resident (tests/server_rss.rs: 33 MB after a 3-line message and a
///   59 MB peak over ten large ones with them, 21 and 28 MB without).
/// - One glibc arena for what C code still allocates with malloc (SQLite's
///   page caches): glibc gives a thread that meets contention an arena of
///   its own (up to eight per core) and hands little of it back. An
///   operator's own `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` is left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn memory_setup() {
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag of this
    // process; mallopt only sets an allocator parameter, and no other thread
    // exists yet to be allocating meanwhile.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        if std::env::var_os("MALLOC_ARENA_MAX").is_none()
            && std::env::var_os("GLIBC_TUNABLES").is_none()
        {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn memory_setup() {}
