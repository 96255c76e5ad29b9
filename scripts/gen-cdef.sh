#!/bin/sh
# gen-cdef.sh HEADER: prints a Lua module whose string is HEADER's declarations
# for ffi.cdef: preprocessor lines and comments stripped (src/gd.h is written
# so that nothing else needs translating).
set -eu
header=$1
echo "-- Generated from $header by scripts/gen-cdef.sh; do not edit."
echo "return [==["
# drop /* ... */ comments (also across lines), then preprocessor lines and blanks
sed -e ':a' -e '/\/\*/{' -e '/\*\//!{N;ba' -e '}' -e 's:/\*.*\*/::' -e '}' "$header" |
    grep -v '^[[:space:]]*#' | grep -v '^[[:space:]]*$'
echo "]==]"
