# Progress of a long build, on stderr; sourced by the build scripts with the
# build's name:   source scripts/progress.sh toolchain
#   step <i> <n> <what>   step i of n begins:  toolchain: [2/3, ~6 min left] building X
#   progress_done         the build succeeded: its steps' seconds go to <cache>/durations/<name>,
#                         the next build's estimate
#   progress_stop         stops the ticking line: in the script's EXIT trap, and before
#                         the script writes anything else on stderr (its say)
# On a terminal (not CI) the running step's line ticks in place every second with
# its elapsed time, and what the build's tools print goes to <cache>/durations/<name>.log
# (its tail shown if the build fails), or it would break into that line; elsewhere
# plain lines only, one per step start and finish, the tools' own lines between them.
# The same line as lib/progress.ts draws for the matrix, without Node (these
# scripts build what Node's tools need).

progress_name=$1
progress_file="${FGL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flask-gevent-lab}/durations/$progress_name"
progress_seconds=()  # each finished step's
progress_i=0 progress_n=0 progress_what="" progress_started=0  # the running step (i 0: none)
progress_ticker=""
progress_log="$progress_file.log"
progress_terminal=""  # the terminal's fd while stderr goes to the log
if [ -t 2 ] && [ -z "${CI:-}" ]; then progress_live=1; else progress_live=0; fi

# "45 s", "2 min 5 s", "1 h 3 min".
progress_duration() {
    local s=$1
    if ((s < 60)); then echo "$s s"
    elif ((s % 60 == 0 && s < 3600)); then echo "$((s / 60)) min"
    elif ((s < 3600)); then echo "$((s / 60)) min $((s % 60)) s"
    else echo "$((s / 3600)) h $((s % 3600 / 60)) min"
    fi
}

# The time left from step i of n, `spent` into it, as the last build's steps took: "~6 min";
# nothing without a record of as many steps. A step past its record is taken as about to finish.
progress_left() {  # <i> <n> <spent>
    local i=$1 n=$2 spent=$3 recorded=() left=0 k
    if [ -f "$progress_file" ]; then mapfile -t recorded <"$progress_file"; fi
    [ ${#recorded[@]} = "$n" ] || return 0
    for ((k = i; k < n; k++)); do left=$((left + recorded[k])); done
    left=$((left + (recorded[i - 1] > spent ? recorded[i - 1] - spent : 0)))
    if ((left < 30)); then echo "<1 min"; else echo "~$(progress_duration $(((left + 30) / 60 * 60)))"; fi
}

# "toolchain: [2/3, ~6 min left] building X (1 min 5 s)" of the running step, `spent` into it.
progress_line() {  # <spent>
    local left elapsed=""
    left=$(progress_left "$progress_i" "$progress_n" "$1")
    if (($1 >= 1)); then elapsed=" ($(progress_duration "$1"))"; fi
    echo "$progress_name: [$progress_i/$progress_n${left:+, $left left}] $progress_what$elapsed"
}

progress_tick() {
    local cols line
    cols=$(stty size <&"$progress_terminal" 2>/dev/null | cut -d' ' -f2) || true
    ((${cols:-0} > 1)) || cols=80  # a terminal that does not know its size says 0
    # Ends with the script too, should it be killed before its trap runs.
    while kill -0 $$ 2>/dev/null; do
        line=$(progress_line $((SECONDS - progress_started)))
        printf '\r\033[2K%s' "${line:0:cols-1}" >&"$progress_terminal"
        sleep 1
    done
}

progress_untick() {
    [ -n "$progress_ticker" ] || return 0
    kill "$progress_ticker" 2>/dev/null || true
    wait "$progress_ticker" 2>/dev/null || true
    progress_ticker=""
    # stderr back to the terminal.
    exec 2>&"$progress_terminal" {progress_terminal}>&-
    progress_terminal=""
}

# Ends the running step: a permanent line with the time it took, in place of the ticking one.
progress_finish() {
    ((progress_i > 0)) || return 0
    local spent=$((SECONDS - progress_started))
    progress_seconds+=("$spent")
    progress_untick
    [ $progress_live = 0 ] || printf '\r\033[2K' >&2
    echo "$progress_name: [$progress_i/$progress_n] $progress_what: done in $(progress_duration "$spent")" >&2
    progress_i=0
}

step() {  # <i> <n> <what>
    progress_finish
    progress_i=$1 progress_n=$2 progress_what=$3 progress_started=$SECONDS
    if [ $progress_live = 1 ]; then
        mkdir -p "${progress_log%/*}"
        ((progress_i > 1)) || : >"$progress_log"
        exec {progress_terminal}>&2 2>>"$progress_log"
        progress_tick >/dev/null &
        progress_ticker=$!
    else
        progress_line 0 >&2
    fi
}

progress_done() {
    progress_finish
    mkdir -p "${progress_file%/*}"
    printf '%s\n' "${progress_seconds[@]}" >"$progress_file"
}

# A step cut short (the build failed) keeps its last line on the screen, ended, and
# after a failure the tail of what its tools printed.
progress_stop() {
    local status=$?
    [ -n "$progress_ticker" ] || return 0
    progress_untick
    echo >&2
    if [ "$status" != 0 ]; then tail -n 30 "$progress_log" >&2; echo "(all of it: $progress_log)" >&2; fi
}
