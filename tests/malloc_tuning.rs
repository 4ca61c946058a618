//! With fixed malloc thresholds, a batch of 256 KB buffers allocated, touched and freed over and
//! over (the pattern of SAC's tensors in one update) reuses the same memory instead of faulting
//! fresh pages in each time.
//! Its own test binary: the thresholds are process-wide.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn repeated_large_buffers_stop_faulting_pages_in() {
    fn minor_faults() -> i64 {
        // SAFETY: getrusage writes into the zeroed struct we own.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) }, 0);
        usage.ru_minflt
    }
    fn churn(rounds: usize) -> i64 {
        let before = minor_faults();
        for round in 0..rounds {
            let buffers: Vec<Vec<u8>> = (0..8)
                .map(|_| {
                    let mut buffer = vec![0u8; 256 << 10];
                    // Touch every page, as a tensor fill does.
                    buffer.iter_mut().step_by(4096).for_each(|b| *b = round as u8);
                    buffer
                })
                .collect();
            std::hint::black_box(&buffers);
        }
        minor_faults() - before
    }
    // glibc's defaults: the thresholds rise to the buffer size, and freeing 2 MB at the top of
    // the heap exceeds the trim threshold, so every round hands the pages back and faults them in
    // again (8 × 64 pages).
    let default_faults = churn(200);
    assert!(demorl_studio::malloc_tuning::fix_malloc_thresholds());
    churn(1); // the first heap growth faults once
    let tuned_faults = churn(200);
    println!("page faults over 200 rounds: {default_faults} with glibc defaults, {tuned_faults} fixed");
    assert!(default_faults > 200 * 32, "defaults faulted only {default_faults} pages in 200 rounds");
    assert!(tuned_faults < 200, "fixed thresholds still faulted {tuned_faults} pages in 200 rounds");
}
