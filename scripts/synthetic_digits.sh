#!/usr/bin/env bash
# Makes a synthetic spoken-digits dataset in the layout of the Spiking Heidelberg Digits:
# espeak-ng speaks the digits 0-9 in English (classes 0-9) and German (classes 10-19) with
# many voices, accents, speeds and pitches; `spikegrad audio2spikes` turns the recordings
# into 700-channel spike trains with the Heidelberg cochlea model. Train and test sets are
# split by voice (no test voice is heard in training), as SHD splits by speaker.
#
# Usage: scripts/synthetic_digits.sh [OUT_DIR]      (default: data/synthetic_digits)
# Writes OUT_DIR/train.h5 and OUT_DIR/test.h5 (SHD layout; /extra/speaker is the voice id),
# OUT_DIR/keys.txt (class names) and the WAV files with their label maps under OUT_DIR/wav/.
# Set SPIKEGRAD to a built binary to skip `cargo run --release`.
set -euo pipefail

OUT=${1:-data/synthetic_digits}

if ! command -v espeak-ng >/dev/null 2>&1; then
    echo "error: espeak-ng is not installed. It is the speech synthesiser that speaks the" >&2
    echo "digits; install it (Debian/Ubuntu: apt-get install espeak-ng) and run again." >&2
    exit 1
fi
if [[ -n "${SPIKEGRAD:-}" ]]; then
    run_spikegrad() { "$SPIKEGRAD" "$@"; }
else
    run_spikegrad() { cargo run --quiet --release -- "$@"; }
fi

EN=(zero one two three four five six seven eight nine)
DE=(null eins zwei drei vier fünf sechs sieben acht neun)
EN_ACCENTS=(en-us en-gb en-gb-scotland en-gb-x-rp en-029 en-us-nyc en-gb-x-gbclan en-gb-x-gbcwmd)
# Voice variants (espeak-ng's voice "personalities"); each is one speaker id.
TRAIN_VOICES=(m1 m2 m3 m4 m5 m6 f1 f2 f3 f4 klatt adam)
TEST_VOICES=(m7 f5 croak grandma)
# Renditions per voice and word: words per minute and pitch (0-99).
SPEEDS=(125 155 185)
PITCHES=(35 50 68)

mkdir -p "$OUT/wav/train" "$OUT/wav/test"
{ for w in "${EN[@]}"; do echo "english-$w"; done
  for w in "${DE[@]}"; do echo "german-$w"; done; } > "$OUT/keys.txt"

# speak SPLIT VOICE_ID VOICE: every word, language and rendition of one voice.
speak() {
    local split=$1 id=$2 voice=$3 r lang words accent label file
    for r in "${!SPEEDS[@]}"; do
        for lang in en de; do
            if [[ $lang == en ]]; then
                words=("${EN[@]}")
                accent=${EN_ACCENTS[$(((id + r) % ${#EN_ACCENTS[@]}))]}
            else
                words=("${DE[@]}")
                accent=de
            fi
            for d in "${!words[@]}"; do
                label=$d
                [[ $lang == de ]] && label=$((d + 10))
                file="$voice-$lang-$d-$r.wav"
                espeak-ng -v "$accent+$voice" -s "${SPEEDS[$r]}" -p "${PITCHES[$(((r + id) % 3))]}" \
                    -w "$OUT/wav/$split/$file" "${words[$d]}"
                echo "$file,$label,$id" >> "$OUT/wav/$split/labels.csv"
            done
        done
    done
}

for split in train test; do
    echo "file,label,speaker" > "$OUT/wav/$split/labels.csv"
done
id=0
for v in "${TRAIN_VOICES[@]}"; do speak train $id "$v"; id=$((id + 1)); done
for v in "${TEST_VOICES[@]}"; do speak test $id "$v"; id=$((id + 1)); done

for split in train test; do
    echo "converting $split ($(($(wc -l < "$OUT/wav/$split/labels.csv") - 1)) recordings)"
    seed=1; [[ $split == test ]] && seed=2
    run_spikegrad audio2spikes "$OUT/wav/$split" "$OUT/$split.h5" \
        --labels "$OUT/wav/$split/labels.csv" --keys "$OUT/keys.txt" --seed "$seed"
done
echo "wrote $OUT/train.h5 and $OUT/test.h5"
