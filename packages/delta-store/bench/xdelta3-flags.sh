#!/bin/sh
# Bench only (run.mjs): an `xdelta3Path` that encodes with $S3KIT_BENCH_XDELTA3_FLAGS instead of the engine's
# flags, so that other settings (e.g. DeltaGlider's plain `-9`) run through the same put path in the same run.
# Decoding is passed through unchanged.
if [ "$1" = "-e" ]; then
  while [ "$#" -gt 0 ] && [ "$1" != "-s" ]; do shift; done
  # shellcheck disable=SC2086 # the flags are meant to split
  exec xdelta3 -e -f $S3KIT_BENCH_XDELTA3_FLAGS "$@"
fi
exec xdelta3 "$@"
