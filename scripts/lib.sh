# Shared by the scripts: paths and messages. Sourced, not run.
RSVM_TOP=${RSVM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RSVM_CACHE=${RSVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rsvm}
mkdir -p "$RSVM_CACHE"
export RSVM_TOP RSVM_CACHE
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
export PATH="$RSVM_CACHE/bindgen/bin:/usr/lib/llvm-19/bin:$PATH"

log() { printf '[rsvm] %s\n' "$*" >&2; }
die() { printf '[rsvm] error: %s\n' "$*" >&2; exit 1; }
