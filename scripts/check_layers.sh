#!/usr/bin/env bash
# Layering check (design.md): core -> wire -> port -> stack -> api -> preload/tools.
# A layer may include its own headers and those of layers below it, never above.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=(core wire port stack api preload)
status=0
for i in "${!layers[@]}"; do
    layer=${layers[$i]}
    forbidden=("${layers[@]:$((i + 1))}")
    ((${#forbidden[@]})) || continue
    pattern="#include [\"<]kbnet/($(IFS='|'; echo "${forbidden[*]}"))/"
    for dir in "include/kbnet/$layer" "src/$layer"; do
        [[ -d $dir ]] || continue
        if hits=$(grep -rnE "$pattern" "$dir"); then
            echo "layer violation: $layer includes a layer above it:" >&2
            echo "$hits" >&2
            status=1
        fi
    done
done
((status == 0)) && echo "layers: ok (${layers[*]})"
exit $status
