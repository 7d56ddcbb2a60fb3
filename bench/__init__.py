"""Benchmarks of the core server's DICOM archive (see ``bench/README.md``)."""
