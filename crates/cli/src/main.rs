//! The `spikegrad` command: train, evaluate and plot spiking networks.

// Training allocates and frees large per-batch buffers; mimalloc keeps them mapped instead of
// returning them to the OS after every batch (measured on the default task: 4.1 s → 2.2 s per
// epoch, almost all of the difference page faults).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: index 15 in mimalloc v2 and in v3 (which the allocator crate builds).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Never hand freed pages back to the OS: a training step frees and reallocates buffers of
    // the same sizes, and returned pages come back as page faults plus kernel zeroing (measured:
    // 6126 → 259 page faults over 23 `shd-rsnn` steps). Peak memory is unchanged.
    // SAFETY: sets a plain integer option before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    std::process::exit(spikegrad_cli::run_command_line());
}
