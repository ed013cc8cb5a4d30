# Shell helpers shared by scripts/demo.sh and scripts/supports.sh (sourced; SCRIPT names the caller in errors).

# need_positive NAMES VALUE: VALUE is a positive number (of ps), else a one-line error
need_positive() {
  [[ "$2" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] && [[ ! "$2" =~ ^0*\.?0*$ ]] || {
    echo "error: $SCRIPT: $1 must be positive numbers of ps, not '$2'" >&2; exit 2; }
}

# need_whole NAME VALUE: VALUE is a whole number >= 1, else a one-line error
need_whole() {
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "error: $SCRIPT: $1 must be a whole number >= 1, not '$2'" >&2; exit 2; }
}

# fresh_out DIR: create DIR, an existing one first moved aside as DIR.N (never overwritten); sets OUT (absolute)
fresh_out() {
  local dir="$1" n=1
  if [ -e "$dir" ]; then
    while [ -e "$dir.$n" ]; do n=$((n + 1)); done
    mv "$dir" "$dir.$n"; echo "== earlier results moved to $dir.$n"
  fi
  mkdir -p "$dir"
  OUT="$(cd "$dir" && pwd)"
}

# stamp: the seconds since the script started (set START first)
stamp() { echo "   ($(( $(date +%s) - START )) s)"; }
