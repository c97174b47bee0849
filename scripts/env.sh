# Shared settings for the scripts: one persistent target dir outside the clone, reused when the machine is.
# Sourced, not run.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ablate-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
ABLATE_BIN="$CARGO_TARGET_DIR/release/ablate"
