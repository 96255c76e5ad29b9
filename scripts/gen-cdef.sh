#!/bin/sh
# gen-cdef.sh HEADER: prints a Lua module whose string is HEADER's declarations
# for ffi.cdef.  The C preprocessor expands the operation lists (src/ops.def)
# and drops comments; GD_CDEF keeps the system headers out (LuaJIT knows their
# types); the remaining preprocessor lines and blanks are stripped (src/gd.h is
# written so that nothing else needs translating).
set -eu
header=$1
echo "-- Generated from $header and src/ops.def by scripts/gen-cdef.sh; do not edit."
echo "return [==["
${CC:-cc} -E -P -nostdinc -DGD_CDEF -I"$(dirname "$header")" -x c "$header" |
    grep -v '^[[:space:]]*#' | grep -v '^[[:space:]]*$'
echo "]==]"
