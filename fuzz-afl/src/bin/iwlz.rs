//! Any bytes as an iWlz message (IO31, AW33, AW35, AW39): an error or a
//! reading, never a panic or a hang.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = zio_gateway::read::iwlz::read_all(data);
    });
}
