use clap::Parser;
use zio_gateway::cli::{exit_code, run, Cli};

fn main() {
    one_malloc_arena();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("zio-gateway: {e}");
            std::process::exit(exit_code(&e));
        }
    }
}

/// glibc gives a thread that meets contention an arena of its own (up to
/// eight per core) and hands little of it back: the server's resident set
/// crept up with each large message until every check and delivery thread
/// held one (issue 11: ten 150,000-line messages took it from 11.5 to
/// 23.6 MB; 16.3 MB with one arena, 18.8 MB with two). Small allocations
/// still skip the arena's lock through glibc's per-thread cache. An operator's
/// own `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` is left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none()
        && std::env::var_os("GLIBC_TUNABLES").is_none()
    {
        // SAFETY: mallopt only sets an allocator parameter, and no other
        // thread exists yet to be allocating meanwhile.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}
