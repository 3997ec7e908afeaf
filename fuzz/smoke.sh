#!/usr/bin/env bash
# A short, bounded fuzz session: builds both fuzz targets, then runs each for SECONDS (default
# 30) from the committed seeds, both at once. Exits non-zero if either target crashes, panics,
# times out on one input, or runs out of memory; libFuzzer's report (input file and stack) is
# printed. Needs cargo-fuzz (installed here if missing) and a C++ compiler (for libFuzzer).
#
#   fuzz/smoke.sh          # 30 s per target
#   fuzz/smoke.sh 600      # 10 minutes per target
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS]   (a positive whole number, default 30)" >&2
  exit 2
fi

# cargo-fuzz drives nightly-only rustc flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

# No sanitizer: the code under test is safe Rust, and without ASan the build is about three
# times faster and the targets run about four times as many inputs per second.
sanitizer=(--sanitizer none)
started=$SECONDS
cargo fuzz build "${sanitizer[@]}"
echo "fuzz build: $((SECONDS - started)) s"

# Per target: largest input, and the time one input may take before it counts as a hang.
declare -A max_len=([trailers]=1000000 [policy]=200000)
# Full logs stay in artifacts/ (ignored by git), beside any failing input libFuzzer writes there.
logs=artifacts
mkdir -p "$logs"
pids=()
for target in trailers policy; do
  mkdir -p "corpus/$target"
  # The generated corpus (ignored by git) comes first: libFuzzer adds new inputs there and
  # only reads the seeds.
  cargo fuzz run "${sanitizer[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len="${max_len[$target]}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 >"$logs/smoke-$target.log" 2>&1 &
  pids+=($!)
done

status=0
for i in 0 1; do
  target=$([[ $i == 0 ]] && echo trailers || echo policy)
  if wait "${pids[$i]}"; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/smoke-$target.log")
    echo "fuzz $target: ok, ${runs:-?} inputs in ${seconds} s"
  else
    status=1
    echo "fuzz $target: FAILED; libFuzzer's report (all of it in fuzz/$logs/smoke-$target.log):" >&2
    # From the panic or libFuzzer's error on, without the failing input dumped as a byte list.
    sed -n '/panicked at\|ERROR: libFuzzer\|^ALARM:\|^==[0-9]*== ERROR/,$p' "$logs/smoke-$target.log" |
      sed '/^Output of `std::fmt::Debug`:/,/^Reproduce with:/{/^Reproduce with:/!d}' |
      cut -c1-400 | head -n 150 >&2 || true
  fi
done
exit "$status"
