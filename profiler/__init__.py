"""On-device measurement: kernel implementations, backends, the timing harness and sweeps."""
